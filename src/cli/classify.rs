//! `musicvae classify FILE.mid [--classifier DIR] [--json]`: a melody classifier reads the file's
//! melody windows, a drum-style classifier its drum windows.

use anyhow::{Context, Result};
use clap::Args;
use musicvae::classifier::CpuGenreClassifier;
use std::path::{Path, PathBuf};

/// Where `--classifier` points when it is not given: `models/genre-classifier` in the current
/// folder, else the one shipped in the source tree.
pub const DEFAULT_CLASSIFIER: &str = "models/genre-classifier";
/// The same for a file that holds drums only (channel 10).
pub const DEFAULT_DRUM_CLASSIFIER: &str = "models/drum-style-classifier";

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// A MIDI file.
    pub file: PathBuf,
    /// A folder written by `musicvae train-classifier` (default: models/genre-classifier, or
    /// models/drum-style-classifier for a file that holds only drums).
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// Print JSON (labels, per-window origin and probabilities, file probabilities).
    #[arg(long)]
    pub json: bool,
}

/// The default classifier for `file`: the drum-style one when the file reads and holds notes,
/// all of them drums; the genre one otherwise.
fn default_dir(file: &Path) -> PathBuf {
    let drums = musicvae::music::read_midi_file(file)
        .map(|seq| !seq.notes.is_empty() && seq.notes.iter().all(|n| n.is_drum))
        .unwrap_or(false);
    let name = if drums {
        DEFAULT_DRUM_CLASSIFIER
    } else {
        DEFAULT_CLASSIFIER
    };
    let here = PathBuf::from(name);
    if here.join("config.json").is_file() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

pub fn run(a: ClassifyArgs) -> Result<()> {
    let dir = a.classifier.clone().unwrap_or_else(|| default_dir(&a.file));
    let device = Default::default();
    let clf = CpuGenreClassifier::load(&dir, &device)
        .with_context(|| format!("loading the classifier from {}", dir.display()))?;
    let p = clf.predict_file(&a.file).with_context(|| {
        format!(
            "no usable {} window to classify (classifier {})",
            clf.kind().name(),
            dir.display()
        )
    })?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
        return Ok(());
    }
    let cfg = clf.config();
    println!(
        "{}: {} {} windows of {} bars; classifier {} ({})",
        a.file.display(),
        p.windows.len(),
        cfg.kind.name(),
        cfg.bars,
        cfg.arch_name(),
        dir.display()
    );
    let short: Vec<String> = p
        .labels
        .iter()
        .map(|l| l.chars().take(9).collect())
        .collect();
    let mut head = format!("{:<22}", "window");
    for l in &short {
        head.push_str(&format!(" {l:>9}"));
    }
    println!("{head}  best");
    for w in &p.windows {
        let mut row = format!(
            "{:<22}",
            format!(
                "sec {} bar {} ({:.1} s)",
                w.origin.section, w.origin.start_bar, w.origin.start_time
            )
        );
        for v in &w.probs {
            row.push_str(&format!(" {:>8.1}%", 100.0 * v));
        }
        let best = musicvae::classifier::eval::argmax(&w.probs);
        println!("{row}  {}", p.labels[best]);
    }
    let mut row = format!("{:<22}", "whole file");
    for v in &p.file {
        row.push_str(&format!(" {:>8.1}%", 100.0 * v));
    }
    println!("{row}  {}", p.predicted);
    println!(
        "{}: {} ({:.1}%)",
        if cfg.kind == musicvae::data::converter::DataKind::Drums {
            "style"
        } else {
            "genre"
        },
        p.predicted,
        100.0 * p.file.iter().cloned().fold(0.0, f32::max)
    );
    Ok(())
}
