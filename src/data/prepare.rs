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
                meta.files.push(CachedFile {
                    rel: f.rel.clone(),
                    label: f.label.clone(),
                    first_window: windows.len(),
                    num_windows: ws.len(),
                    held_out: is_held_out(&f.rel, split.seed, split.held_out_fraction),
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
}
