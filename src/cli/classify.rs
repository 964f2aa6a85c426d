//! `musicvae classify FILE.mid [--classifier DIR] [--json]`.

use anyhow::{Context, Result};
use clap::Args;
use musicvae::classifier::CpuGenreClassifier;
use std::path::{Path, PathBuf};

/// Where `--classifier` points when it is not given: `models/genre-classifier` in the current
/// folder, else the one shipped in the source tree.
pub const DEFAULT_CLASSIFIER: &str = "models/genre-classifier";

#[derive(Args, Debug)]
pub struct ClassifyArgs {
    /// A MIDI file.
    pub file: PathBuf,
    /// A folder written by `musicvae train-classifier` (default: models/genre-classifier).
    #[arg(long)]
    pub classifier: Option<PathBuf>,
    /// Print JSON (labels, per-window origin and probabilities, file probabilities).
    #[arg(long)]
    pub json: bool,
}

fn default_dir() -> PathBuf {
    let here = PathBuf::from(DEFAULT_CLASSIFIER);
    if here.join("config.json").is_file() {
        return here;
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_CLASSIFIER)
}

pub fn run(a: ClassifyArgs) -> Result<()> {
    let dir = a.classifier.clone().unwrap_or_else(default_dir);
    let device = Default::default();
    let clf = CpuGenreClassifier::load(&dir, &device)
        .with_context(|| format!("loading the classifier from {}", dir.display()))?;
    let p = clf
        .predict_file(&a.file)
        .context("no usable melody window to classify")?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
        return Ok(());
    }
    let cfg = clf.config();
    println!(
        "{}: {} windows of {} bars; classifier {} ({})",
        a.file.display(),
        p.windows.len(),
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
        "genre: {} ({:.1}%)",
        p.predicted,
        100.0 * p.file.iter().cloned().fold(0.0, f32::max)
    );
    Ok(())
}
