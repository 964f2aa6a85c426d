//! Labelled melody or drum windows for the classifier: a prepared corpus (labels = first-level
//! folders), a file-level split (the corpus's own `split.tsv` where it names a file, else
//! stratified by label), and class-balanced sampling. [`detect_kind`] tells a drum corpus from a
//! melody one.

use super::config::ClassifierConfig;
use super::pianoroll::{allowed_shifts, RollSpec};
use crate::data::cache::{Cache, CacheMeta};
use crate::data::converter::{ConverterConfig, DataKind, Window};
use crate::data::corpus::{scan, stable_hash};
use crate::data::prepare::SplitConfig;
use crate::data::source::{self, is_cache, Reader};
use crate::error::{Error, Result};
use crate::music::read_midi_file;
use crate::rng::Rng;
use std::collections::BTreeMap;
use std::path::Path;

/// MIDI files [`detect_kind`] reads at most (spread evenly over the sorted file list).
pub const DETECT_FILES: usize = 32;

/// The kind of windows a `--data` path holds: a prepare cache's own kind; for a MIDI folder,
/// drums when every file read (up to [`DETECT_FILES`], evenly spread) that has notes has only drum
/// notes (channel 10), and at least one does; melody otherwise (also for an empty folder or
/// unreadable files, which the loader then reports).
pub fn detect_kind(dir: &Path) -> Result<DataKind> {
    if is_cache(dir) {
        let p = dir.join("cache.json");
        let raw = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
        // A damaged cache is reported by the loader, with its fix.
        return Ok(serde_json::from_slice::<CacheMeta>(&raw)
            .map(|m| m.converter.kind)
            .unwrap_or(DataKind::Melody));
    }
    let files = scan(dir)?;
    let n = files.len();
    let picks = n.min(DETECT_FILES);
    let (mut drums, mut other) = (0usize, 0usize);
    for i in 0..picks {
        let f = &files[i * n / picks];
        let Ok(seq) = read_midi_file(&f.path) else {
            continue;
        };
        if seq.notes.is_empty() {
            continue;
        }
        if seq.notes.iter().all(|n| n.is_drum) {
            drums += 1;
        } else {
            other += 1;
        }
    }
    Ok(if drums > 0 && other == 0 {
        DataKind::Drums
    } else {
        DataKind::Melody
    })
}

/// The converter whose windows a classifier of `cfg` reads (all programs for melodies).
pub fn converter_for(cfg: &ClassifierConfig) -> ConverterConfig {
    match cfg.kind {
        DataKind::Drums => ConverterConfig::drums(cfg.bars),
        _ => ConverterConfig::melody(cfg.bars, None),
    }
}

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
    /// The corpus's own split file (`split.tsv`), when it has one.
    pub split_file: Option<String>,
    /// Files whose split that file names (held out = its `validation` and `test` files); the
    /// others are split by [`stratified_held_out`].
    pub split_file_files: usize,
    /// Labels left out because the split file holds out every usable file of theirs, with their
    /// file counts (they are not in `labels`, nor their files in `files`).
    pub dropped_labels: Vec<(String, usize)>,
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

/// The held-out flag of every file: a file the corpus's split file names keeps that split
/// (`train` is trained on, `validation` and `test` are held out); the others are split by
/// [`stratified_held_out`] among themselves. `files` = (relative path, label, named split).
pub fn split_files(
    files: &[(String, String, Option<String>)],
    seed: u64,
    fraction: f64,
) -> Vec<bool> {
    let rest: Vec<usize> = (0..files.len()).filter(|&i| files[i].2.is_none()).collect();
    let pairs: Vec<(String, String)> = rest
        .iter()
        .map(|&i| (files[i].0.clone(), files[i].1.clone()))
        .collect();
    let mut held: Vec<bool> = files
        .iter()
        .map(|f| f.2.as_deref().is_some_and(|s| s != "train"))
        .collect();
    for (&i, h) in rest.iter().zip(stratified_held_out(&pairs, seed, fraction)) {
        held[i] = h;
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
    /// Labelled data from a prepared cache, re-split with [`split_files`]: files the corpus's
    /// split file named keep their split, the others are stratified with `split_seed` / `fraction`.
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
        let named: Vec<(String, String, Option<String>)> = kept
            .iter()
            .map(|f| (f.rel.clone(), f.label.clone(), f.split.clone()))
            .collect();
        let held = split_files(&named, split_seed, fraction);
        // A split file can hold out every usable file of a label (the Groove MIDI Dataset's
        // gospel beats at 2 bars): nothing to learn it from, so the label is left out, with its
        // held-out files, rather than trained on files the split keeps for evaluation.
        let mut trained: BTreeMap<&str, bool> = BTreeMap::new();
        for (f, &h) in kept.iter().zip(&held) {
            *trained.entry(f.label.as_str()).or_default() |= !h;
        }
        let dropped_labels: Vec<(String, usize)> = labels
            .iter()
            .filter(|l| !trained.get(l.as_str()).copied().unwrap_or(false))
            .map(|l| (l.clone(), kept.iter().filter(|f| &f.label == l).count()))
            .collect();
        let in_use = |l: &str| trained.get(l).copied().unwrap_or(false);
        let (kept, held): (Vec<_>, Vec<bool>) = kept
            .iter()
            .zip(held)
            .filter(|(f, _)| in_use(&f.label))
            .map(|(f, h)| (*f, h))
            .unzip();
        let split_file_files = kept.iter().filter(|f| f.split.is_some()).count();
        let all_labels = labels.clone();
        labels.retain(|l| in_use(l));
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
            .filter(|l| !l.is_empty() && all_labels.binary_search(l).is_err())
            .collect();
        if !empty.is_empty() {
            return Err(Error::Invalid(format!(
                "label folder(s) {} gave no usable {}-bar {} window; remove them or check the files with `musicvae prepare --verbose`",
                empty.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
                meta.converter.slice_bars,
                meta.converter.kind.name()
            )));
        }
        let data = ClassifierData {
            labels,
            windows,
            files,
            unlabelled_files,
            split_file: meta.split_file.clone(),
            split_file_files,
            dropped_labels,
        };
        data.check()?;
        Ok(data)
    }

    /// Read a folder of MIDI files (or a cache written by `musicvae prepare`) for `cfg`'s kind
    /// and window length. `progress(done, total)` is called while reading.
    pub fn load(
        dir: &Path,
        cfg: &ClassifierConfig,
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Self> {
        let cache = source::load(
            dir,
            &converter_for(cfg),
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
                    "none of the {} MIDI files gave a {}-bar {} window (`musicvae prepare {} --config {}_{}bar --verbose` lists why)",
                    cache.meta.skipped.len(),
                    cfg.bars,
                    cfg.kind.name(),
                    dir.display(),
                    if cfg.kind == DataKind::Drums { "drums" } else { "mel" },
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
                "no labelled files: put the MIDI files in one folder per genre or style (DIR/<genre>/*.mid)"
                    .into(),
            ));
        }
        if self.labels.len() < 2 {
            let left_out = if self.dropped_labels.is_empty() {
                String::new()
            } else {
                format!(
                    " ({} left out: the split file holds out all their files)",
                    self.dropped_labels
                        .iter()
                        .map(|(l, _)| l.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            return Err(Error::Invalid(format!(
                "only one label ('{}'){left_out}: a classifier needs at least two genre folders",
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
    fn a_split_file_decides_the_files_it_names() {
        let mut files: Vec<(String, String, Option<String>)> = Vec::new();
        for (rel, split) in [
            ("a/t1.mid", Some("train")),
            ("a/v.mid", Some("validation")),
            ("a/x.mid", Some("test")),
            ("b/t.mid", Some("train")),
        ] {
            let label = rel[..1].to_string();
            files.push((rel.into(), label, split.map(String::from)));
        }
        for i in 0..20 {
            files.push((format!("c/{i}.mid"), "c".into(), None));
        }
        // Named files keep their split even at fraction 0 or 0.9; the others are stratified.
        for fraction in [0.0, 0.1, 0.9] {
            let held = split_files(&files, 42, fraction);
            assert_eq!(&held[..4], &[false, true, true, false], "{fraction}");
            let rest: Vec<(String, String)> = files[4..]
                .iter()
                .map(|f| (f.0.clone(), f.1.clone()))
                .collect();
            assert_eq!(&held[4..], &stratified_held_out(&rest, 42, fraction)[..]);
        }
        // Through a cache whose files carry their split.
        let mut c = cache(&[
            ("a/t1.mid", "a", 2),
            ("a/v.mid", "a", 2),
            ("b/t.mid", "b", 2),
            ("b/x.mid", "b", 2),
        ]);
        for (f, s) in c
            .meta
            .files
            .iter_mut()
            .zip(["train", "validation", "train", "test"])
        {
            f.split = Some(s.into());
        }
        c.meta.split_file = Some("split.tsv".into());
        let d = ClassifierData::from_cache(c.clone(), 1, 0.0).unwrap();
        let held: Vec<bool> = d.files.iter().map(|f| f.held_out).collect();
        assert_eq!(held, vec![false, true, false, true]);
        assert_eq!(d.split_file.as_deref(), Some("split.tsv"));
        assert_eq!(d.split_file_files, 4);
        assert!(d.dropped_labels.is_empty());
        // A label whose every file the split holds out is left out, files and all.
        let mut c2 = cache(&[
            ("a/t1.mid", "a", 2),
            ("b/t.mid", "b", 2),
            ("c/v.mid", "c", 3),
            ("c/x.mid", "c", 1),
        ]);
        for (f, s) in c2
            .meta
            .files
            .iter_mut()
            .zip(["train", "train", "validation", "test"])
        {
            f.split = Some(s.into());
        }
        let d = ClassifierData::from_cache(c2, 1, 0.1).unwrap();
        assert_eq!(d.labels, vec!["a", "b"]);
        assert_eq!(d.dropped_labels, vec![("c".to_string(), 2)]);
        assert_eq!(d.files.len(), 2);
        assert!(d.files.iter().all(|f| f.label < 2 && !f.held_out));
        // Two labels are still needed.
        for f in c.meta.files.iter_mut().filter(|f| f.label == "b") {
            f.split = Some("test".into());
        }
        let e = ClassifierData::from_cache(c, 1, 0.0).unwrap_err();
        assert!(e.to_string().contains("only one label"), "{e}");
    }

    #[test]
    fn detects_drum_and_melody_folders() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(
            detect_kind(&root.join("midi_data_drums")).unwrap(),
            DataKind::Drums
        );
        assert_eq!(
            detect_kind(&root.join("midi_data")).unwrap(),
            DataKind::Melody
        );
        let d = tempfile::tempdir().unwrap();
        assert_eq!(detect_kind(d.path()).unwrap(), DataKind::Melody);
        assert!(detect_kind(&d.path().join("missing")).is_err());
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
            kind: crate::data::converter::DataKind::Melody,
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
