//! A folder of MIDI files: recursive scan, labels from first-level folder names, and a
//! deterministic train/held-out split by file (never by window).

use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// One MIDI file of a corpus.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusFile {
    pub path: PathBuf,
    /// Path relative to the corpus root, with '/' separators.
    pub rel: String,
    /// First-level folder name ("" for files directly in the root).
    pub label: String,
}

fn is_midi(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .map(|e| {
            matches!(
                e.to_ascii_lowercase().as_str(),
                "mid" | "midi" | "smf" | "kar"
            )
        })
        .unwrap_or(false)
}

/// All MIDI files under `root` (sorted by relative path). Hidden folders are skipped.
///
/// Symbolic links are followed, but each folder and each file is visited once (by its canonical
/// path), so a link loop ends and a file reached twice counts once (under its first relative path
/// in sorted order). A sub-folder that cannot be listed is skipped (see [`scan_report`]); only an
/// unreadable `root` is an error.
pub fn scan(root: &Path) -> Result<Vec<CorpusFile>> {
    scan_report(root).map(|r| r.files)
}

/// What [`scan_report`] found.
#[derive(Debug, Clone, Default)]
pub struct Scan {
    pub files: Vec<CorpusFile>,
    /// Folders that could not be listed: (relative path, reason).
    pub unreadable: Vec<(String, String)>,
}

fn rel_of(root: &Path, p: &Path) -> Vec<String> {
    p.strip_prefix(root)
        .unwrap_or(p)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect()
}

/// [`scan`], also naming the sub-folders it had to skip.
pub fn scan_report(root: &Path) -> Result<Scan> {
    let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
    if !meta.is_dir() {
        return Err(Error::bad_input(root, "is not a folder"));
    }
    let mut out = Scan::default();
    let mut seen_dirs = std::collections::HashSet::new();
    let mut candidates: Vec<(PathBuf, Vec<String>)> = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        // A folder reached again (a link loop, or two links to one folder) is listed once.
        let canon = std::fs::canonicalize(&dir).unwrap_or_else(|_| dir.clone());
        if !seen_dirs.insert(canon) {
            continue;
        }
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if dir != root => {
                out.unreadable
                    .push((rel_of(root, &dir).join("/"), e.to_string()));
                continue;
            }
            Err(e) => return Err(Error::io(&dir, e)),
        };
        for entry in rd {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    out.unreadable
                        .push((rel_of(root, &dir).join("/"), e.to_string()));
                    break;
                }
            };
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if p.is_dir() {
                stack.push(p);
            } else if is_midi(&p) {
                let rel = rel_of(root, &p);
                candidates.push((p, rel));
            }
        }
    }
    candidates.sort_by_cached_key(|a| a.1.join("/"));
    let mut seen_files = std::collections::HashSet::new();
    for (p, rel) in candidates {
        let canon = std::fs::canonicalize(&p).unwrap_or_else(|_| p.clone());
        if !seen_files.insert(canon) {
            continue;
        }
        let label = if rel.len() > 1 {
            rel[0].clone()
        } else {
            String::new()
        };
        out.files.push(CorpusFile {
            path: p,
            rel: rel.join("/"),
            label,
        });
    }
    out.unreadable.sort();
    Ok(out)
}

/// FNV-1a 64-bit: a stable hash (std's hasher is not stable across Rust versions).
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= *b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// True when the file belongs to the held-out split: a stable hash of (seed, relative path) decides,
/// so the split is by file, deterministic, and does not change when other files are added.
pub fn is_held_out(rel: &str, seed: u64, fraction: f64) -> bool {
    let mut key = seed.to_le_bytes().to_vec();
    key.extend_from_slice(rel.as_bytes());
    let h = stable_hash(&key);
    (h as f64 / u64::MAX as f64) < fraction
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_is_deterministic_and_near_fraction() {
        let names: Vec<String> = (0..2000).map(|i| format!("g/{i}.mid")).collect();
        let held: Vec<bool> = names.iter().map(|n| is_held_out(n, 7, 0.1)).collect();
        let again: Vec<bool> = names.iter().map(|n| is_held_out(n, 7, 0.1)).collect();
        assert_eq!(held, again);
        let k = held.iter().filter(|&&b| b).count();
        assert!((150..250).contains(&k), "{k}");
        let other: Vec<bool> = names.iter().map(|n| is_held_out(n, 8, 0.1)).collect();
        assert_ne!(held, other);
    }

    #[test]
    fn scan_labels_by_first_folder() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("irish/sub")).unwrap();
        std::fs::write(d.path().join("irish/sub/a.mid"), b"x").unwrap();
        std::fs::write(d.path().join("b.MID"), b"x").unwrap();
        std::fs::write(d.path().join("c.txt"), b"x").unwrap();
        let files = scan(d.path()).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].label, "");
        assert_eq!(files[1].label, "irish");
        assert_eq!(files[1].rel, "irish/sub/a.mid");
    }

    #[test]
    fn scan_ends_on_link_loops_and_counts_a_file_once() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("g/sub")).unwrap();
        std::fs::write(d.path().join("g/sub/a.mid"), b"x").unwrap();
        // A loop (g/sub/up → g) and a second name for the same folder (h → g).
        std::os::unix::fs::symlink(d.path().join("g"), d.path().join("g/sub/up")).unwrap();
        std::os::unix::fs::symlink(d.path().join("g"), d.path().join("h")).unwrap();
        let files = scan(d.path()).unwrap();
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["g/sub/a.mid"]);
        assert_eq!(files[0].label, "g");
    }

    #[test]
    fn scan_skips_an_unreadable_folder_and_names_it() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("ok")).unwrap();
        std::fs::create_dir_all(d.path().join("locked")).unwrap();
        std::fs::write(d.path().join("ok/a.mid"), b"x").unwrap();
        std::fs::write(d.path().join("locked/b.mid"), b"x").unwrap();
        let locked = d.path().join("locked");
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
        let r = scan_report(d.path());
        // Whether mode 000 blocks listing depends on who runs the test (root reads anyway).
        let blocked = std::fs::read_dir(&locked).is_err();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        let r = r.unwrap();
        let rels: Vec<&str> = r.files.iter().map(|f| f.rel.as_str()).collect();
        if blocked {
            assert_eq!(rels, ["ok/a.mid"]);
            assert_eq!(r.unreadable.len(), 1);
            assert_eq!(r.unreadable[0].0, "locked");
        } else {
            assert_eq!(rels, ["locked/b.mid", "ok/a.mid"]);
            assert!(r.unreadable.is_empty());
        }
        // An unreadable root is still an error naming it.
        assert!(scan(&d.path().join("missing")).is_err());
    }
}
