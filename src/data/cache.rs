//! The `prepare` cache: every window of a corpus for one converter, so training does not re-read MIDI.
//! Layout: `<dir>/cache.json` (config, files, labels, per-file window ranges, skipped files) and
//! `<dir>/windows.bin` (little-endian u16 tokens, window after window, track after track).
//! Both are written atomically.

use super::converter::{ConverterConfig, Window};
use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::Path;

pub const CACHE_VERSION: u32 = 1;

/// One file of the cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CachedFile {
    pub rel: String,
    pub label: String,
    /// Index of its first window and the number of windows.
    pub first_window: usize,
    pub num_windows: usize,
    pub held_out: bool,
    /// The file's split as the corpus's `split.tsv` names it ("train", "validation", "test");
    /// None when the corpus has no split file or does not list it (hash split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split: Option<String>,
}

/// A file that gave no window, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SkippedFile {
    pub rel: String,
    pub reason: String,
}

/// Metadata of a cache.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CacheMeta {
    pub version: u32,
    pub converter: ConverterConfig,
    pub split_seed: u64,
    pub held_out_fraction: f64,
    /// The corpus's own split file, when it had one (files it lists keep their split).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_file: Option<String>,
    pub files: Vec<CachedFile>,
    pub skipped: Vec<SkippedFile>,
    pub labels: Vec<String>,
    pub num_windows: usize,
}

/// Longest window a cache may describe, in bars.
const MAX_CACHE_BARS: usize = 1024;

impl CacheMeta {
    /// Sizes and ranges that the loader and training index with: a window length of 1..=1024
    /// bars, a split fraction in [0, 1], and every file's window range inside the window list.
    pub fn check(&self) -> std::result::Result<(), String> {
        let bars = self.converter.slice_bars;
        if bars == 0 || bars > MAX_CACHE_BARS {
            return Err(format!(
                "converter.slice_bars is {bars}, not in 1..={MAX_CACHE_BARS}"
            ));
        }
        if !(0.0..=1.0).contains(&self.held_out_fraction) {
            return Err("held_out_fraction is not in [0, 1]".into());
        }
        for f in &self.files {
            let end = f.first_window.checked_add(f.num_windows);
            if end.is_none_or(|e| e > self.num_windows) {
                return Err(format!(
                    "file {} claims windows {}..+{} outside the {} windows of the cache",
                    f.rel, f.first_window, f.num_windows, self.num_windows
                ));
            }
        }
        Ok(())
    }
}

/// A loaded cache.
#[derive(Debug, Clone)]
pub struct Cache {
    pub meta: CacheMeta,
    pub windows: Vec<Window>,
}

impl Cache {
    /// Window indices of the files that are not held out (the training split), in order.
    pub fn training_windows(&self) -> Vec<usize> {
        self.meta
            .files
            .iter()
            .filter(|f| !f.held_out)
            .flat_map(|f| f.first_window..f.first_window + f.num_windows)
            .collect()
    }

    pub fn save(&self, dir: &Path) -> Result<()> {
        let mut bin = Vec::new();
        for w in &self.windows {
            for t in &w.tracks {
                for &tok in t {
                    bin.extend_from_slice(&tok.to_le_bytes());
                }
            }
        }
        write_atomic(&dir.join("windows.bin"), &bin)?;
        let json = serde_json::to_vec_pretty(&self.meta)
            .map_err(|e| Error::Invalid(format!("cannot serialise cache metadata: {e}")))?;
        write_atomic(&dir.join("cache.json"), &json)
    }

    pub fn load(dir: &Path) -> Result<Cache> {
        let mp = dir.join("cache.json");
        let raw = std::fs::read(&mp).map_err(|e| Error::io(&mp, e))?;
        let meta: CacheMeta = serde_json::from_slice(&raw).map_err(|e| Error::Json {
            path: mp.clone(),
            reason: format!("not a musicvae cache ({e}); run `musicvae prepare` again"),
        })?;
        if meta.version != CACHE_VERSION {
            return Err(Error::bad_input(
                &mp,
                format!(
                    "cache version {} (expected {CACHE_VERSION}); run `musicvae prepare` again",
                    meta.version
                ),
            ));
        }
        meta.check().map_err(|why| {
            Error::bad_input(
                &mp,
                format!("{why}; the cache is damaged, run `musicvae prepare` again"),
            )
        })?;
        let bp = dir.join("windows.bin");
        let bin = std::fs::read(&bp).map_err(|e| Error::io(&bp, e))?;
        let depths = meta.converter.kind.track_depths();
        let steps = meta.converter.steps();
        let per = depths.len() * steps * 2;
        let expected = per.checked_mul(meta.num_windows);
        if expected != Some(bin.len()) {
            return Err(Error::bad_input(&bp, format!("holds {} bytes, expected {} × {per} for {} windows; the cache is damaged, run `musicvae prepare` again", bin.len(), meta.num_windows, meta.num_windows)));
        }
        let mut windows = Vec::with_capacity(meta.num_windows);
        for chunk in bin.chunks_exact(per) {
            let mut tracks = Vec::with_capacity(depths.len());
            for (ti, &depth) in depths.iter().enumerate() {
                let t: Vec<u16> = chunk[ti * steps * 2..(ti + 1) * steps * 2]
                    .chunks_exact(2)
                    .map(|b| u16::from_le_bytes([b[0], b[1]]))
                    .collect();
                if t.iter().any(|&x| x as usize >= depth) {
                    return Err(Error::bad_input(
                        &bp,
                        "token out of range; the cache is damaged, run `musicvae prepare` again",
                    ));
                }
                tracks.push(t);
            }
            windows.push(Window { tracks });
        }
        Ok(Cache { meta, windows })
    }
}
