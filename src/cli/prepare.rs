//! `musicvae prepare DIR --config NAME [--out CACHE]`.

use super::config_arg::{data_config, data_config_help};
use super::progress::bar;
use anyhow::{bail, Context, Result};
use clap::Args;
use musicvae::data::prepare::{prepare_dir, summarize, SplitConfig};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct PrepareArgs {
    /// Folder of MIDI files, scanned recursively; first-level folder names are the labels (genres).
    pub dir: PathBuf,
    // A preset or a named data converter (looked up in `run`, which names both lists when unknown).
    #[arg(long, short, help = data_config_help())]
    pub config: String,
    /// Where to write the cache (a folder). Without it, only the summary is printed.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Seed of the file-level train / held-out split.
    #[arg(long, default_value_t = 42)]
    pub split_seed: u64,
    /// Fraction of files held out for evaluation.
    #[arg(long, default_value_t = 0.1)]
    pub held_out: f64,
    /// Also write every window's tokens as a [windows, tracks·steps] uint16 .npy file (for the
    /// PyTorch benchmark reference).
    #[arg(long)]
    pub npy: Option<PathBuf>,
    /// List every skipped file with its reason.
    #[arg(long, short)]
    pub verbose: bool,
}

pub fn run(a: PrepareArgs) -> Result<()> {
    let cfg = data_config(&a.config)?;
    if !(0.0..1.0).contains(&a.held_out) {
        bail!("--held-out must be in [0, 1), got {}", a.held_out);
    }
    let t0 = Instant::now();
    let pb = bar(0, "prepare");
    let cache = prepare_dir(
        &a.dir,
        &cfg,
        SplitConfig {
            seed: a.split_seed,
            held_out_fraction: a.held_out,
        },
        &|done, total| {
            if pb.length() != Some(total as u64) {
                pb.set_length(total as u64);
            }
            pb.set_position(done as u64);
        },
    )?;
    pb.finish_and_clear();
    let secs = t0.elapsed().as_secs_f64();
    let nfiles = cache.meta.files.len() + cache.meta.skipped.len();
    if nfiles == 0 {
        bail!(
            "{}: no MIDI files (.mid, .midi) found in this folder or below",
            a.dir.display()
        );
    }
    println!(
        "{}: {} files in {:.1} s ({:.0} files/s), config {} ({} bars, {})",
        a.dir.display(),
        nfiles,
        secs,
        nfiles as f64 / secs.max(1e-9),
        a.config,
        cfg.slice_bars,
        cfg.kind.name()
    );
    println!(
        "{:<20} {:>6} {:>12} {:>9} {:>9}",
        "label", "files", "with windows", "windows", "held-out"
    );
    let summary = summarize(&cache);
    let (mut tf, mut tw, mut tww, mut th) = (0, 0, 0, 0);
    for (label, s) in &summary {
        println!(
            "{:<20} {:>6} {:>12} {:>9} {:>9}",
            if label.is_empty() {
                "(no folder)"
            } else {
                label
            },
            s.files,
            s.files_with_windows,
            s.windows,
            s.held_out_windows
        );
        tf += s.files;
        tww += s.files_with_windows;
        tw += s.windows;
        th += s.held_out_windows;
    }
    println!("{:<20} {:>6} {:>12} {:>9} {:>9}", "total", tf, tww, tw, th);
    if let Some(file) = &cache.meta.split_file {
        let mut per: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
        for f in &cache.meta.files {
            let e = per
                .entry(f.split.as_deref().unwrap_or("unlisted (hash split)"))
                .or_default();
            e.0 += 1;
            e.1 += f.num_windows;
        }
        let parts: Vec<String> = per
            .iter()
            .map(|(s, (f, w))| format!("{s} {f} files / {w} windows"))
            .collect();
        println!(
            "split from {file} (train is trained on, the rest held out): {}",
            parts.join(", ")
        );
    }
    if !cache.meta.skipped.is_empty() {
        let mut reasons: std::collections::BTreeMap<String, usize> = Default::default();
        for s in &cache.meta.skipped {
            let key = s.reason.split(':').next().unwrap_or(&s.reason).to_string();
            *reasons.entry(key).or_default() += 1;
        }
        println!(
            "skipped {} files without a usable window:",
            cache.meta.skipped.len()
        );
        for (r, n) in reasons {
            println!("  {n:>5} × {r}");
        }
        if a.verbose {
            for s in &cache.meta.skipped {
                println!("  {}: {}", s.rel, s.reason);
            }
        } else {
            println!("  (--verbose lists each file)");
        }
    }
    if let Some(npy) = &a.npy {
        let cols = cfg.steps() * cfg.kind.track_depths().len();
        let tokens: Vec<u16> = cache
            .windows
            .iter()
            .flat_map(|w| w.tracks.iter().flatten().copied())
            .collect();
        musicvae::bench::npy::write_u16(npy, &[cache.windows.len(), cols], &tokens)
            .with_context(|| format!("writing {}", npy.display()))?;
        println!(
            "tokens written to {} ({} × {cols})",
            npy.display(),
            cache.windows.len()
        );
    }
    if let Some(out) = &a.out {
        cache
            .save(out)
            .with_context(|| format!("writing the cache to {}", out.display()))?;
        println!(
            "cache written to {} ({} windows)",
            out.display(),
            cache.meta.num_windows
        );
    }
    Ok(())
}
