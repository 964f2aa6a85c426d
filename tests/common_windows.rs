//! Shared helpers for tests: real windows from the committed corpus.
#![allow(dead_code)]

use musicvae::data::converter::{extract, ConverterConfig, Window};
use musicvae::data::corpus::scan;
use musicvae::music::read_midi_file;
use std::path::{Path, PathBuf};

pub fn midi_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("midi_data")
}

/// The first `n` distinct windows (with at least 4 onsets) of the corpus for a converter.
pub fn real_windows(cfg: &ConverterConfig, n: usize) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    for f in scan(&midi_data()).expect("midi_data exists") {
        let Ok(seq) = read_midi_file(&f.path) else {
            continue;
        };
        for w in extract(&seq, cfg).windows {
            let onsets = w.tracks[0].iter().filter(|&&t| t >= 2).count();
            if onsets >= 4 && !out.contains(&w) {
                out.push(w);
                break; // one per file: variety
            }
        }
        if out.len() == n {
            break;
        }
    }
    assert_eq!(out.len(), n, "not enough windows in midi_data");
    out
}
