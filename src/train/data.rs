//! Training data: windows split by file into train / held-out, and epochs that take at most
//! `max_windows_per_file` random windows of each training file (Magenta's cap of 5), shuffled.

use crate::data::cache::Cache;
use crate::data::converter::{DataKind, Window};
use crate::rng::Rng;

/// Windows of a cache, split.
#[derive(Debug, Clone)]
pub struct TrainData {
    pub kind: DataKind,
    pub windows: Vec<Window>,
    /// Window indices of each training file.
    pub train_files: Vec<Vec<usize>>,
    /// Held-out window indices (all windows of held-out files).
    pub eval: Vec<usize>,
    pub max_per_file: usize,
}

impl TrainData {
    pub fn from_cache(cache: Cache) -> Self {
        let mut train_files = Vec::new();
        let mut eval = Vec::new();
        for f in &cache.meta.files {
            // Cache::load checked the ranges; clamp anyway for caches built in code.
            let end = f
                .first_window
                .saturating_add(f.num_windows)
                .min(cache.windows.len());
            let idx: Vec<usize> = (f.first_window.min(end)..end).collect();
            if f.held_out {
                eval.extend(idx);
            } else {
                train_files.push(idx);
            }
        }
        TrainData {
            kind: cache.meta.converter.kind,
            max_per_file: cache.meta.converter.max_windows_per_file.max(1),
            windows: cache.windows,
            train_files,
            eval,
        }
    }

    pub fn train_windows(&self) -> usize {
        self.train_files.iter().map(|f| f.len()).sum()
    }

    /// Window order of epoch `epoch` (deterministic in seed and epoch).
    pub fn epoch_order(&self, seed: u64, epoch: u64) -> Vec<usize> {
        let mut rng = Rng::new(seed ^ epoch.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0xA5A5);
        let mut out = Vec::new();
        for f in &self.train_files {
            let mut idx = f.clone();
            rng.shuffle(&mut idx);
            idx.truncate(self.max_per_file);
            out.extend(idx);
        }
        rng.shuffle(&mut out);
        out
    }
}

/// Transpose melody tracks by `k` semitones when every onset stays in range (else unchanged).
pub fn transpose_window(kind: DataKind, w: &Window, k: i32) -> Window {
    match kind.representation().transpose(&w.tracks, k) {
        Some(tracks) => Window { tracks },
        None => w.clone(),
    }
}
