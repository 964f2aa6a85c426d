//! `musicvae encode FILE.mid`: the latent code (μ, σ) of a phrase as JSON.

use super::backend::{dispatch, ModelArgs, OnBackend};
use anyhow::{Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::data::converter::extract;
use musicvae::generate::latent_file::{LatentFile, LatentItem, FORMAT};
use musicvae::generate::{pick_window, Vae};
use musicvae::io_util::write_atomic;
use musicvae::music::read_midi_file;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct EncodeArgs {
    /// A MIDI file.
    pub file: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Which window of the file (default: the first with at least two notes per bar).
    #[arg(long, conflicts_with = "all_windows")]
    pub window: Option<usize>,
    /// Take the window that starts at bar B of its section (1-based; see `musicvae inspect FILE --windows`).
    #[arg(long, value_name = "B", conflicts_with_all = ["window", "all_windows"])]
    pub bar: Option<usize>,
    /// Encode every window of the file.
    #[arg(long)]
    pub all_windows: bool,
    #[command(flatten)]
    pub refine: super::refine_arg::RefineArgs,
    /// Write the JSON here instead of printing it.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

impl OnBackend for EncodeArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        let dir = a.model.resolve_for(&[&a.file])?;
        let vae = Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        let cfg = &vae.config.model.data;
        let picked = if a.all_windows {
            let seq = read_midi_file(&a.file)?;
            let n = extract(&seq, cfg).windows.len();
            (0..n.max(1))
                .map(|i| pick_window(&a.file, cfg, Some(i)))
                .collect::<musicvae::Result<Vec<_>>>()?
        } else {
            vec![musicvae::generate::pick(
                &a.file,
                cfg,
                musicvae::generate::WindowChoice::new(a.window, a.bar),
            )?]
        };
        let windows: Vec<_> = picked.iter().map(|p| p.window.clone()).collect();
        // The refinement's line goes to standard error: standard output may be the JSON.
        let (lat, codes) = a
            .refine
            .encode_saying(&vae, &windows, |line| eprintln!("{line}"))?;
        let refined = a.refine.options().steps > 0;
        let file = LatentFile {
            format: FORMAT.to_string(),
            model: vae.config.model.name.clone(),
            z_size: vae.z_size(),
            items: picked
                .iter()
                .zip(lat.into_iter().zip(codes))
                .map(|(p, (l, z))| LatentItem {
                    source: a.file.display().to_string(),
                    window: p.index,
                    windows_in_file: p.count,
                    start_time: p.origin.start_time,
                    qpm: p.qpm,
                    mu: l.mu,
                    sigma: l.sigma,
                    z: refined.then_some(z),
                })
                .collect(),
        };
        let json = serde_json::to_string_pretty(&file)?;
        match &a.out {
            Some(out) => {
                write_atomic(out, json.as_bytes())?;
                eprintln!(
                    "encoded {} window(s) of {} with {}; wrote {}",
                    file.items.len(),
                    a.file.display(),
                    vae.describe(),
                    out.display()
                );
            }
            None => println!("{json}"),
        }
        Ok(())
    }
}

pub fn run(a: EncodeArgs) -> Result<()> {
    if let Some(out) = &a.out {
        let dir = a.model.resolve_for(&[&a.file])?;
        super::guard::Files::new()
            .input("the input", &a.file)
            .model(&dir)
            .output("--out", out)
            .check()?;
    }
    let kind = a.model.device;
    dispatch(kind, a)
}
