//! Atomic file writes: write to a temporary file in the same folder, fsync, rename, fsync the
//! folder. A crash or Ctrl-C never leaves a half-written checkpoint or output behind.
//!
//! Temporary files get an unpredictable name and are created with `create_new` (O_EXCL), so a
//! file or symlink planted under the name in a shared folder is never followed or overwritten.
//!
//! Long jobs (training, playback) stop between writes on Ctrl-C through [`ctrl_c_flag`].

use crate::error::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A flag that Ctrl-C sets, for a job that stops cleanly: installs the process's Ctrl-C handler
/// (the `ctrlc` crate allows one; when one is installed already, this flag is never set). A second
/// Ctrl-C only sets the flag again.
pub fn ctrl_c_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let _ = ctrlc::set_handler(move || s.store(true, Ordering::SeqCst));
    stop
}

/// A fresh temporary file beside `path`: `.NAME.tmp-PID-RANDOM`, created exclusively.
fn create_temp(path: &Path) -> std::io::Result<(PathBuf, std::fs::File)> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_string());
    let mut last = None;
    for _ in 0..16 {
        let tmp = format!(
            ".{}.tmp-{}-{:016x}",
            name,
            std::process::id(),
            rand::random::<u64>()
        );
        let tmp = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join(tmp),
            _ => PathBuf::from(tmp),
        };
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
        {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => last = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("cannot create a temporary file")))
}

/// Whether `name` is one of our temporary names (`.NAME.tmp-PID-RANDOM`).
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.')
        && name
            .rsplit_once(".tmp-")
            .and_then(|(_, tail)| tail.split_once('-'))
            .is_some_and(|(pid, hex)| {
                !pid.is_empty()
                    && pid.bytes().all(|b| b.is_ascii_digit())
                    && hex.len() == 16
                    && hex.bytes().all(|b| b.is_ascii_hexdigit())
            })
}

/// Remove the temporary files a killed writer left in `dir` (only names [`write_atomic`] makes;
/// call it where this process is the folder's only writer, e.g. a training run it owns).
pub fn remove_stale_temps(dir: &Path) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        if is_temp_name(&e.file_name().to_string_lossy()) && e.path().is_file() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// fsync the folder holding `path`, so a rename into it survives a crash.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    std::fs::File::open(dir)?.sync_all()
}

/// Create the parent folder of `path` if it does not exist.
pub fn ensure_parent(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        }
    }
    Ok(())
}

/// Write `bytes` to `path` atomically (temp file + fsync + rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// Write to `path` atomically through a closure that fills a temporary file.
pub fn write_atomic_with<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&mut std::fs::File) -> std::io::Result<()>,
{
    ensure_parent(path)?;
    let (tmp, mut f) = create_temp(path).map_err(|e| Error::io(path, e))?;
    let result = (|| {
        fill(&mut f)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}

/// Move an already written temporary file (made by a library that writes to paths) into place.
pub fn write_atomic_via_path<F>(path: &Path, fill: F) -> Result<()>
where
    F: FnOnce(&Path) -> std::result::Result<(), String>,
{
    ensure_parent(path)?;
    // The temporary name is claimed exclusively first; the library then writes into our file.
    let (tmp, f) = create_temp(path).map_err(|e| Error::io(path, e))?;
    drop(f);
    if let Err(reason) = fill(&tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::bad_input(path, reason));
    }
    let result = (|| {
        std::fs::File::open(&tmp)?.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_parent(path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/a.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(p.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "temp files left: {names:?}");
    }

    #[test]
    fn planted_symlink_at_an_old_style_temp_name_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim.txt");
        std::fs::write(&victim, b"keep").unwrap();
        let p = dir.path().join("out.txt");
        // What the old predictable name would have been, and a few guesses around it.
        for name in [
            format!(".out.txt.tmp-{}", std::process::id()),
            ".out.txt.tmp".to_string(),
        ] {
            std::os::unix::fs::symlink(&victim, dir.path().join(name)).unwrap();
        }
        write_atomic(&p, b"new").unwrap();
        write_atomic_via_path(&p, |t| {
            std::fs::write(t, b"newer").map_err(|e| e.to_string())
        })
        .unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"keep");
        assert_eq!(std::fs::read(&p).unwrap(), b"newer");
        // The temporary file is created exclusively: two temp names never collide.
        let (a, _) = create_temp(&p).unwrap();
        let (b, _) = create_temp(&p).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn stale_temps_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, _) = create_temp(&dir.path().join("model.mpk")).unwrap();
        for keep in [".hidden", "model.mpk", ".a.tmp-12-xyz", ".a.tmp-"] {
            std::fs::write(dir.path().join(keep), b"x").unwrap();
        }
        assert!(tmp.exists());
        remove_stale_temps(dir.path());
        assert!(!tmp.exists());
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            vec![".a.tmp-", ".a.tmp-12-xyz", ".hidden", "model.mpk"]
        );
    }

    #[test]
    fn failed_fill_keeps_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.txt");
        write_atomic(&p, b"old").unwrap();
        let r = write_atomic_with(&p, |_| Err(std::io::Error::other("boom")));
        assert!(r.is_err());
        assert_eq!(std::fs::read(&p).unwrap(), b"old");
    }
}
