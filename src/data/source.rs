//! Where windows come from: a `--data` path is either a cache written by `musicvae prepare` (read
//! as it is, with the split it was prepared with) or a folder of MIDI files (read now and split by
//! file). A cache must hold the kind and length of windows its reader needs; the error names the
//! fix. Reading a MIDI folder reports progress through [`ReadProgress`]; nothing here prints.

use super::cache::Cache;
use super::converter::{ConverterConfig, DataKind};
use super::prepare::{prepare_dir, SplitConfig};
use crate::error::Error;
use std::path::{Path, PathBuf};

/// Who reads the windows (named in the error when a cache holds other ones).
#[derive(Debug, Clone, PartialEq)]
pub enum Reader {
    /// A MusicVAE, by the name of its model config.
    Model(String),
    /// The genre classifier (melody or drum windows).
    Classifier,
}

/// Why a data source gave no windows.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// A prepared cache of other windows than the reader needs.
    #[error("{}: {}", .path.display(), wrong_windows(*.found, *.wanted, .reader))]
    WrongWindows {
        path: PathBuf,
        /// Window length in bars and kind of the cache, and of the reader.
        found: (usize, DataKind),
        wanted: (usize, DataKind),
        reader: Reader,
    },
    /// The cache or the MIDI folder could not be read.
    #[error(transparent)]
    Read(#[from] Error),
}

impl From<SourceError> for Error {
    fn from(e: SourceError) -> Self {
        match e {
            SourceError::Read(e) => e,
            SourceError::WrongWindows {
                path,
                found,
                wanted,
                reader,
            } => Error::bad_input(path, wrong_windows(found, wanted, &reader)),
        }
    }
}

fn wrong_windows(found: (usize, DataKind), wanted: (usize, DataKind), reader: &Reader) -> String {
    let ((found_bars, found_kind), (bars, kind)) = (found, wanted);
    match reader {
        Reader::Model(name) => format!(
            "this cache holds {found_bars}-bar {} windows but model {name} needs {bars}-bar {}; run `musicvae prepare` with --config {name}",
            found_kind.name(),
            kind.name(),
        ),
        Reader::Classifier => format!(
            "this cache holds {found_bars}-bar {} windows; the classifier needs {bars}-bar {} windows (prepare one with `musicvae prepare DIR --config {}_{bars}bar --out CACHE`, or pass the MIDI folder)",
            found_kind.name(),
            kind.name(),
            match kind {
                DataKind::Drums => "drums",
                DataKind::Trio => "trio",
                DataKind::Melody => "mel",
            },
        ),
    }
}

/// Hears how reading a MIDI folder goes (a cache is read without a word). A plain
/// `Fn(done, total)` closure is one.
pub trait ReadProgress: Sync {
    /// Reading a MIDI folder starts.
    fn start(&self) {}
    /// `done` of `total` files are read (called from several threads).
    fn files(&self, done: usize, total: usize);
    /// The folder has been read.
    fn finish(&self) {}
}

impl<F: Fn(usize, usize) + Sync> ReadProgress for F {
    fn files(&self, done: usize, total: usize) {
        self(done, total)
    }
}

/// Whether `path` is a cache written by `musicvae prepare`.
pub fn is_cache(path: &Path) -> bool {
    path.join("cache.json").is_file()
}

/// The windows at `path` for `wanted`: a prepared cache (with the split it was prepared with),
/// which must hold `wanted`'s kind and length of window, or a folder of MIDI files, read now and
/// split by file with `split`.
pub fn load(
    path: &Path,
    wanted: &ConverterConfig,
    split: SplitConfig,
    reader: &Reader,
    progress: &dyn ReadProgress,
) -> Result<Cache, SourceError> {
    if is_cache(path) {
        let cache = Cache::load(path)?;
        let found = &cache.meta.converter;
        if found.kind != wanted.kind || found.slice_bars != wanted.slice_bars {
            return Err(SourceError::WrongWindows {
                path: path.to_path_buf(),
                found: (found.slice_bars, found.kind),
                wanted: (wanted.slice_bars, wanted.kind),
                reader: reader.clone(),
            });
        }
        return Ok(cache);
    }
    progress.start();
    let cache = prepare_dir(path, wanted, split, &|done, total| {
        progress.files(done, total)
    })?;
    progress.finish();
    Ok(cache)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cache_of_other_windows_names_the_fix() {
        let d = tempfile::tempdir().unwrap();
        let melody2 = ConverterConfig::melody(2, None);
        prepare_dir(d.path(), &melody2, SplitConfig::default(), &|_, _| {})
            .unwrap()
            .save(d.path())
            .unwrap();
        let split = SplitConfig::default();
        assert!(load(d.path(), &melody2, split, &Reader::Classifier, &|_, _| {}).is_ok());
        let melody16 = ConverterConfig::melody(16, None);
        let model = Reader::Model("mel_16bar".into());
        let e = load(d.path(), &melody16, split, &model, &|_, _| {}).unwrap_err();
        let want = format!(
            "{}: this cache holds 2-bar melody windows but model mel_16bar needs 16-bar melody; run `musicvae prepare` with --config mel_16bar",
            d.path().display()
        );
        assert_eq!(e.to_string(), want);
        let e = load(d.path(), &melody16, split, &Reader::Classifier, &|_, _| {}).unwrap_err();
        assert_eq!(e.to_string(), Error::from(e).to_string());
    }
}
