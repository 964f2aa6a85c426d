//! Shared by the integration tests: the repository root, the real binary run from it, its
//! output as text, paths as arguments, and real windows from the committed corpus.
#![allow(dead_code)]

use musicvae::data::converter::{extract, ConverterConfig, Window};
use musicvae::data::corpus::scan;
use musicvae::music::read_midi_file;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root (where `midi_data/` and `models/` are).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Run the binary from the repository root, as the README does.
pub fn musicvae(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_musicvae"))
        .current_dir(root())
        .args(args)
        .output()
        .expect("run musicvae")
}

/// Standard output followed by standard error.
pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// A path as a command-line argument.
pub fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

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

/// The `file<TAB>split` lines of a corpus folder's split.tsv (comment lines left out).
pub fn split_lines(folder: &Path) -> Vec<String> {
    std::fs::read_to_string(folder.join("split.tsv"))
        .expect("split.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(String::from)
        .collect()
}
