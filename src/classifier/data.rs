//! Labelled melody windows for the classifier: a prepared corpus (labels = first-level folders),
//! a stratified file-level split, and class-balanced sampling.

use super::config::ClassifierConfig;
use super::pianoroll::{allowed_shifts, RollSpec};
use crate::data::cache::Cache;
use crate::data::converter::{ConverterConfig, Window};
use crate::data::corpus::stable_hash;
use crate::data::prepare::SplitConfig;
use crate::data::source::{self, Reader};
use crate::error::{Error, Result};
use crate::rng::Rng;
use std::collections::BTreeMap;
use std::path::Path;

/// One file of the labelled set.
#[derive(Debug, Clone, PartialEq)]
pub struct LabelledFile {
    pub rel: String,
    /// Index into `labels`.
    pub label: usize,
    /// Its windows are `windows[first..first + count]`.
    pub first: usize,
    pub count: usize,
    pub held_out: bool,
}

/// Windows, files and labels.
#[derive(Debug, Clone)]
pub struct ClassifierData {
    pub labels: Vec<String>,
    pub windows: Vec<Window>,
    pub files: Vec<LabelledFile>,
    /// Files directly in the corpus root (no label folder), left out.
    pub unlabelled_files: usize,
}

/// Stratified split by file: within each label, files are ordered by a stable hash of
/// (seed, relative path) and the first `round(fraction · n)` are held out (at least one when the
/// label has two files or more and the fraction is > 0; never all of them). Deterministic, by file,
/// and every label keeps the same held-out share.
pub fn stratified_held_out(files: &[(String, String)], seed: u64, fraction: f64) -> Vec<bool> {
    let mut by_label: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, (_, label)) in files.iter().enumerate() {
        by_label.entry(label.as_str()).or_default().push(i);
    }
    let mut held = vec![false; files.len()];
    for idx in by_label.values() {
        let n = idx.len();
        let mut k = (fraction * n as f64).round() as usize;
        if fraction > 0.0 && n >= 2 {
            k = k.clamp(1, n - 1);
        } else {
            k = k.min(n.saturating_sub(1));
        }
        let mut keyed: Vec<(u64, &str, usize)> = idx
            .iter()
            .map(|&i| {
                let mut key = seed.to_le_bytes().to_vec();
                key.extend_from_slice(files[i].0.as_bytes());
                (stable_hash(&key), files[i].0.as_str(), i)
            })
            .collect();
        keyed.sort();
        for &(_, _, i) in keyed.iter().take(k) {
            held[i] = true;
        }
    }
    held
}

/// Per-label counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LabelCounts {
    pub train_files: usize,
    pub held_out_files: usize,
    pub train_windows: usize,
    pub held_out_windows: usize,
}

impl ClassifierData {
    /// Labelled data from a prepared cache, re-split (stratified) with `split_seed` / `fraction`.
    pub fn from_cache(cache: Cache, split_seed: u64, fraction: f64) -> Result<Self> {
        let Cache { meta, windows } = cache;
        let kept: Vec<_> = meta
            .files
            .iter()
            .filter(|f| !f.label.is_empty() && f.num_windows > 0)
            .collect();
        let unlabelled_files = meta.files.iter().filter(|f| f.label.is_empty()).count();
        let mut labels: Vec<String> = kept.iter().map(|f| f.label.clone()).collect();
        labels.sort();
        labels.dedup();
        let pairs: Vec<(String, String)> = kept
            .iter()
            .map(|f| (f.rel.clone(), f.label.clone()))
            .collect();
        let held = stratified_held_out(&pairs, split_seed, fraction);
        let files = kept
            .iter()
            .zip(held)
            .map(|(f, h)| LabelledFile {
                rel: f.rel.clone(),
                label: labels.binary_search(&f.label).unwrap_or(0),
                first: f.first_window,
                count: f.num_windows,
                held_out: h,
            })
            .collect();
        // Labels that only had skipped files have no windows at all: name them.
        let empty: Vec<&String> = meta
            .labels
            .iter()
            .filter(|l| !l.is_empty() && labels.binary_search(l).is_err())
            .collect();
        if !empty.is_empty() {
            return Err(Error::Invalid(format!(
                "label folder(s) {} gave no usable {}-bar window; remove them or check the files with `musicvae prepare --verbose`",
                empty.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                meta.converter.slice_bars
            )));
        }
        let data = ClassifierData {
            labels,
            windows,
            files,
            unlabelled_files,
        };
        data.check()?;
        Ok(data)
    }

    /// Read a folder of MIDI files (or a cache written by `musicvae prepare`) for `cfg`'s window
    /// length. `progress(done, total)` is called while reading.
    pub fn load(
        dir: &Path,
        cfg: &ClassifierConfig,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Self> {
        let cache = source::load(
            dir,
            &ConverterConfig::melody(cfg.bars, None),
            SplitConfig {
                seed: cfg.split_seed,
                held_out_fraction: cfg.held_out_fraction,
            },
            &Reader::Classifier,
            &progress,
        )?;
        if cache.meta.files.is_empty() && cache.meta.skipped.is_empty() {
            return Err(Error::bad_input(
                dir,
                "no MIDI files (.mid, .midi) in this folder or below",
            ));
        }
        if cache.meta.files.is_empty() {
            return Err(Error::bad_input(
                dir,
                format!(
                    "none of the {} MIDI files gave a {}-bar melody window (`musicvae prepare {} --config mel_{}bar --verbose` lists why)",
                    cache.meta.skipped.len(),
                    cfg.bars,
                    dir.display(),
                    cfg.bars
                ),
            ));
        }
        Self::from_cache(cache, cfg.split_seed, cfg.held_out_fraction)
            .map_err(|e| Error::bad_input(dir, e.to_string()))
    }

    fn check(&self) -> Result<()> {
        if self.labels.is_empty() {
            return Err(Error::Invalid(
                "no labelled files: put the MIDI files in one folder per genre (DIR/<genre>/*.mid)"
                    .into(),
            ));
        }
        if self.labels.len() < 2 {
            return Err(Error::Invalid(format!(
                "only one label ('{}'): a classifier needs at least two genre folders",
                self.labels[0]
            )));
        }
        for (i, c) in self.counts().iter().enumerate() {
            if c.train_files == 0 {
                return Err(Error::Invalid(format!(
                    "label '{}' has no training file (only {} held out); add files",
                    self.labels[i], c.held_out_files
                )));
            }
        }
        Ok(())
    }

    /// Per-label file and window counts, in label order.
    pub fn counts(&self) -> Vec<LabelCounts> {
        let mut c = vec![LabelCounts::default(); self.labels.len()];
        for f in &self.files {
            let e = &mut c[f.label];
            if f.held_out {
                e.held_out_files += 1;
                e.held_out_windows += f.count;
            } else {
                e.train_files += 1;
                e.train_windows += f.count;
            }
        }
        c
    }

    /// Training file indices per label.
    pub fn train_files_by_label(&self) -> Vec<Vec<usize>> {
        let mut v = vec![Vec::new(); self.labels.len()];
        for (i, f) in self.files.iter().enumerate() {
            if !f.held_out {
                v[f.label].push(i);
            }
        }
        v
    }

    pub fn held_out_files(&self) -> Vec<usize> {
        (0..self.files.len())
            .filter(|&i| self.files[i].held_out)
            .collect()
    }

    pub fn train_files(&self) -> Vec<usize> {
        (0..self.files.len())
            .filter(|&i| !self.files[i].held_out)
            .collect()
    }

    /// Held-out windows that also occur verbatim in a training file (tunes shared between
    /// collections): they make window-level accuracy look better than it is.
    pub fn held_out_duplicates(&self) -> (usize, usize) {
        let train: std::collections::HashSet<&Window> = self
            .files
            .iter()
            .filter(|f| !f.held_out)
            .flat_map(|f| &self.windows[f.first..f.first + f.count])
            .collect();
        let held: Vec<&Window> = self
            .files
            .iter()
            .filter(|f| f.held_out)
            .flat_map(|f| &self.windows[f.first..f.first + f.count])
            .collect();
        (
            held.iter().filter(|w| train.contains(*w)).count(),
            held.len(),
        )
    }

    /// One class-balanced batch: label uniform, then a training file of it uniform, then one of the
    /// file's windows uniform, and a random transposition within ±`k` that keeps the notes inside
    /// the roll. Returns (window index, label, shift).
    pub fn sample_batch(
        &self,
        by_label: &[Vec<usize>],
        n: usize,
        spec: &RollSpec,
        k: u8,
        rng: &mut Rng,
    ) -> Vec<(usize, usize, i32)> {
        let labels: Vec<usize> = (0..by_label.len())
            .filter(|&l| !by_label[l].is_empty())
            .collect();
        (0..n)
            .map(|_| {
                let l = labels[rng.below(labels.len())];
                let f = &self.files[by_label[l][rng.below(by_label[l].len())]];
                let wi = f.first + rng.below(f.count);
                let (lo, hi) = self.windows[wi]
                    .tracks
                    .first()
                    .map(|t| allowed_shifts(t, spec, k))
                    .unwrap_or((0, 0));
                let shift = lo + rng.below((hi - lo + 1) as usize) as i32;
                (wi, l, shift)
            })
            .collect()
    }

    /// Up to `max_per_file` windows of a file, evenly spread (0 = all), for evaluation.
    pub fn file_windows(&self, file: usize, max_per_file: usize) -> Vec<usize> {
        let f = &self.files[file];
        if max_per_file == 0 || f.count <= max_per_file {
            return (f.first..f.first + f.count).collect();
        }
        (0..max_per_file)
            .map(|i| f.first + i * f.count / max_per_file)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::cache::{CacheMeta, CachedFile, CACHE_VERSION};

    fn cache(files: &[(&str, &str, usize)]) -> Cache {
        let mut metas = Vec::new();
        let mut windows = Vec::new();
        for (rel, label, n) in files {
            metas.push(CachedFile {
                rel: rel.to_string(),
                label: label.to_string(),
                first_window: windows.len(),
                num_windows: *n,
                held_out: false,
                split: None,
            });
            for i in 0..*n {
                windows.push(Window {
                    tracks: vec![vec![(i % 80) as u16 + 2; 32]],
                });
            }
        }
        let mut labels: Vec<String> = files.iter().map(|f| f.1.to_string()).collect();
        labels.sort();
        labels.dedup();
        Cache {
            meta: CacheMeta {
                version: CACHE_VERSION,
                converter: ConverterConfig::melody(2, None),
                split_seed: 0,
                held_out_fraction: 0.0,
                split_file: None,
                num_windows: windows.len(),
                files: metas,
                skipped: vec![],
                labels,
            },
            windows,
        }
    }

    #[test]
    fn stratified_split_keeps_each_label_share() {
        let mut files = Vec::new();
        for (label, n) in [("a", 200), ("b", 20), ("c", 3), ("d", 1)] {
            for i in 0..n {
                files.push((format!("{label}/{i}.mid"), label.to_string()));
            }
        }
        let held = stratified_held_out(&files, 42, 0.1);
        let count = |l: &str| {
            files
                .iter()
                .zip(&held)
                .filter(|((_, lab), h)| lab == l && **h)
                .count()
        };
        assert_eq!(count("a"), 20);
        assert_eq!(count("b"), 2);
        assert_eq!(count("c"), 1);
        assert_eq!(count("d"), 0);
        assert_eq!(held, stratified_held_out(&files, 42, 0.1));
        assert_ne!(held, stratified_held_out(&files, 43, 0.1));
    }

    #[test]
    fn errors_for_one_label_and_no_training_file() {
        let e =
            ClassifierData::from_cache(cache(&[("a/1.mid", "a", 3), ("a/2.mid", "a", 3)]), 1, 0.1)
                .unwrap_err();
        assert!(e.to_string().contains("only one label"), "{e}");
        let e = ClassifierData::from_cache(cache(&[("1.mid", "", 3)]), 1, 0.1).unwrap_err();
        assert!(e.to_string().contains("no labelled files"), "{e}");
        let d = ClassifierData::from_cache(
            cache(&[
                ("a/1.mid", "a", 3),
                ("b/1.mid", "b", 2),
                ("b/2.mid", "b", 2),
                ("x.mid", "", 1),
            ]),
            1,
            0.5,
        )
        .unwrap();
        assert_eq!(d.labels, vec!["a", "b"]);
        assert_eq!(d.unlabelled_files, 1);
        let c = d.counts();
        assert_eq!((c[0].train_files, c[0].held_out_files), (1, 0));
        assert_eq!((c[1].train_files, c[1].held_out_files), (1, 1));
    }

    #[test]
    fn balanced_sampling() {
        let d = ClassifierData::from_cache(
            cache(&[
                ("a/1.mid", "a", 50),
                ("a/2.mid", "a", 50),
                ("b/1.mid", "b", 2),
            ]),
            1,
            0.0,
        )
        .unwrap();
        let spec = RollSpec {
            pitch_min: 21,
            pitch_max: 108,
            steps: 32,
            onset_channel: true,
        };
        let by = d.train_files_by_label();
        let mut rng = Rng::new(1);
        let s = d.sample_batch(&by, 2000, &spec, 5, &mut rng);
        let b = s.iter().filter(|x| x.1 == 1).count();
        assert!((900..1100).contains(&b), "{b}");
        assert!(s.iter().all(|&(w, l, sh)| d
            .files
            .iter()
            .any(|f| f.label == l && (f.first..f.first + f.count).contains(&w))
            && (-5..=5).contains(&sh)));
        assert_eq!(d.file_windows(0, 4), vec![0, 12, 25, 37]);
    }
}
