//! Build a [`Cache`] from a folder of MIDI files: read, extract, split by file. One bad file is
//! recorded as skipped with its reason; it never aborts the run.

use super::cache::{Cache, CacheMeta, CachedFile, SkippedFile, CACHE_VERSION};
use super::converter::{extract, ConverterConfig, Window};
use super::corpus::{is_held_out, scan};
use crate::error::Result;
use crate::music::read_midi_file;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Split settings.
#[derive(Debug, Clone, Copy)]
pub struct SplitConfig {
    pub seed: u64,
    pub held_out_fraction: f64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            seed: 42,
            held_out_fraction: 0.1,
        }
    }
}

/// Name of a corpus's own split file, in its root folder: one `<relative path>\t<split>` line per
/// file (split `train`, `validation` or `test`; `#` starts a comment). Listed files keep that
/// split — `train` is trained on, the others are held out — and the rest are split by hash.
pub const SPLIT_FILE: &str = "split.tsv";

/// The split file of `root`, if it has one: relative path → split name.
pub fn read_split_file(root: &Path) -> Result<Option<BTreeMap<String, String>>> {
    let path = root.join(SPLIT_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(crate::error::Error::io(&path, e)),
    };
    let mut map = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (rel, split) = line.split_once('\t').ok_or_else(|| {
            crate::error::Error::bad_input(
                &path,
                format!(
                    "line {}: expected '<file><TAB><split>', got '{line}'; fix or delete the file",
                    i + 1
                ),
            )
        })?;
        let split = split.trim();
        if !matches!(split, "train" | "validation" | "test") {
            return Err(crate::error::Error::bad_input(
                &path,
                format!(
                    "line {}: split '{split}' is not train, validation or test",
                    i + 1
                ),
            ));
        }
        map.insert(rel.trim().to_string(), split.to_string());
    }
    Ok(Some(map))
}

/// Per-label counts of a prepared cache.
#[derive(Debug, Clone, Default)]
pub struct LabelSummary {
    pub files: usize,
    pub files_with_windows: usize,
    pub windows: usize,
    pub held_out_windows: usize,
}

/// Prepare a cache from `root`. `progress(done, total)` is called as files finish.
pub fn prepare_dir(
    root: &Path,
    cfg: &ConverterConfig,
    split: SplitConfig,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Cache> {
    let files = scan(root)?;
    let own_split = read_split_file(root)?;
    let total = files.len();
    let done = AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = total.div_ceil(threads).max(1);
    type Res = std::result::Result<Vec<Window>, String>;
    // One file's result; a panic while reading one file is that file's error, not the run's.
    let one = |f: &super::corpus::CorpusFile| -> Res {
        let work = || match read_midi_file(&f.path) {
            Ok(seq) => {
                let ex = extract(&seq, cfg);
                match ex.why_none {
                    Some(why) if ex.windows.is_empty() => Err(why),
                    _ => Ok(ex.windows),
                }
            }
            Err(e) => Err(match e {
                crate::error::Error::Midi { reason, .. } => {
                    format!("not a readable MIDI file ({reason})")
                }
                crate::error::Error::BadInput { reason, .. } => reason,
                other => other.to_string(),
            }),
        };
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(work))
            .unwrap_or_else(|_| Err("internal error while reading this file".to_string()))
    };
    let results: Vec<Res> = std::thread::scope(|s| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| {
                let (done, one) = (&done, &one);
                let handle = s.spawn(move || {
                    part.iter()
                        .map(|f| {
                            let r = one(f);
                            let d = done.fetch_add(1, Ordering::Relaxed) + 1;
                            progress(d, total);
                            r
                        })
                        .collect::<Vec<Res>>()
                });
                (handle, part.len())
            })
            .collect();
        // A worker that died still accounts for each of its files, so results stay aligned
        // with `files` (they are paired by position below).
        handles
            .into_iter()
            .flat_map(|(h, n)| {
                h.join()
                    .unwrap_or_else(|_| vec![Err("internal error while reading".to_string()); n])
            })
            .collect()
    });
    debug_assert_eq!(results.len(), files.len());
    let mut meta = CacheMeta {
        version: CACHE_VERSION,
        converter: cfg.clone(),
        split_seed: split.seed,
        held_out_fraction: split.held_out_fraction,
        split_file: own_split.as_ref().map(|_| SPLIT_FILE.to_string()),
        files: Vec::new(),
        skipped: Vec::new(),
        labels: Vec::new(),
        num_windows: 0,
    };
    let mut windows = Vec::new();
    let mut labels = std::collections::BTreeSet::new();
    for (f, r) in files.iter().zip(results) {
        labels.insert(f.label.clone());
        match r {
            Ok(ws) => {
                let named = own_split.as_ref().and_then(|m| m.get(&f.rel)).cloned();
                let held_out = match &named {
                    Some(s) => s != "train",
                    None => is_held_out(&f.rel, split.seed, split.held_out_fraction),
                };
                meta.files.push(CachedFile {
                    rel: f.rel.clone(),
                    label: f.label.clone(),
                    first_window: windows.len(),
                    num_windows: ws.len(),
                    held_out,
                    split: named,
                });
                windows.extend(ws);
            }
            Err(reason) => meta.skipped.push(SkippedFile {
                rel: f.rel.clone(),
                reason,
            }),
        }
    }
    meta.labels = labels.into_iter().collect();
    meta.num_windows = windows.len();
    Ok(Cache { meta, windows })
}

/// Files, windows and held-out windows per label.
pub fn summarize(cache: &Cache) -> BTreeMap<String, LabelSummary> {
    let mut m: BTreeMap<String, LabelSummary> = BTreeMap::new();
    for l in &cache.meta.labels {
        m.entry(l.clone()).or_default();
    }
    for f in &cache.meta.files {
        let e = m.entry(f.label.clone()).or_default();
        e.files += 1;
        e.files_with_windows += 1;
        e.windows += f.num_windows;
        if f.held_out {
            e.held_out_windows += f.num_windows;
        }
    }
    for s in &cache.meta.skipped {
        let label = s
            .rel
            .split('/')
            .next()
            .filter(|_| s.rel.contains('/'))
            .unwrap_or("")
            .to_string();
        m.entry(label).or_default().files += 1;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_worker_does_not_shift_results_onto_other_files() {
        // Real files with different window counts, in two labels.
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("midi_data");
        let d = tempfile::tempdir().unwrap();
        let src = scan(&root).unwrap();
        for (i, f) in src.iter().step_by(37).take(8).enumerate() {
            let dir = d.path().join(if i % 2 == 0 { "a" } else { "b" });
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::copy(&f.path, dir.join(format!("{i}.mid"))).unwrap();
        }
        let cfg = ConverterConfig::melody(2, Some((0, 31)));
        // The progress callback panics once: the worker that calls it first dies.
        let fired = std::sync::atomic::AtomicBool::new(false);
        let cache = prepare_dir(d.path(), &cfg, SplitConfig::default(), &|_, _| {
            if !fired.swap(true, Ordering::SeqCst) {
                panic!("worker dies (test)");
            }
        })
        .unwrap();
        assert_eq!(cache.meta.files.len() + cache.meta.skipped.len(), 8);
        assert!(
            !cache.meta.skipped.is_empty(),
            "one worker's files are skipped"
        );
        for s in &cache.meta.skipped {
            assert!(
                s.reason.contains("internal error"),
                "{}: {}",
                s.rel,
                s.reason
            );
        }
        // Every file kept holds exactly its own windows.
        for f in &cache.meta.files {
            let seq = read_midi_file(&d.path().join(&f.rel)).unwrap();
            let own = extract(&seq, &cfg).windows;
            let got = &cache.windows[f.first_window..f.first_window + f.num_windows];
            assert_eq!(got, &own[..], "{}", f.rel);
        }
    }

    /// A corpus with a split file keeps the splits it names (validation and test held out);
    /// files it does not list fall back to the hash split; a malformed line is one clear error.
    #[test]
    fn a_split_file_decides_the_split_of_the_files_it_lists() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("midi_data");
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("g")).unwrap();
        for (i, f) in [
            "irish/oneills_0000.mid",
            "german_folk/essen_altdeu10_0122.mid",
            "american_fiddle/ryans_allycroakersfavoritereel.mid",
            "chorale/bach_bwv104_6.mid",
        ]
        .iter()
        .enumerate()
        {
            std::fs::copy(root.join(f), d.path().join(format!("g/{i}.mid"))).unwrap();
        }
        std::fs::write(
            d.path().join(SPLIT_FILE),
            "# file\tsplit\ng/0.mid\ttrain\ng/1.mid\ttest\ng/2.mid\tvalidation\r\n",
        )
        .unwrap();
        let cfg = ConverterConfig::melody(2, None);
        let cache = prepare_dir(d.path(), &cfg, SplitConfig::default(), &|_, _| {}).unwrap();
        assert_eq!(cache.meta.split_file.as_deref(), Some(SPLIT_FILE));
        assert_eq!(cache.meta.files.len(), 4, "{:?}", cache.meta.skipped);
        for f in &cache.meta.files {
            let want = match f.rel.as_str() {
                "g/0.mid" => Some(("train", false)),
                "g/1.mid" => Some(("test", true)),
                "g/2.mid" => Some(("validation", true)),
                _ => None,
            };
            match want {
                Some((s, h)) => {
                    assert_eq!(f.split.as_deref(), Some(s), "{}", f.rel);
                    assert_eq!(f.held_out, h, "{}", f.rel);
                }
                None => {
                    assert_eq!(f.split, None, "{}", f.rel);
                    assert_eq!(f.held_out, is_held_out(&f.rel, 42, 0.1), "{}", f.rel);
                }
            }
        }
        std::fs::write(d.path().join(SPLIT_FILE), "g/0.mid\tholdout\n").unwrap();
        let err = prepare_dir(d.path(), &cfg, SplitConfig::default(), &|_, _| {})
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("split.tsv") && err.contains("line 1") && err.contains("holdout"),
            "{err}"
        );
    }
}
