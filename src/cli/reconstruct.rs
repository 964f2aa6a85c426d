//! `musicvae reconstruct FILE.mid`: encode → decode, and how much of the input came back.

use super::backend::{dispatch, ModelArgs, OnBackend};
use super::output::{OutputArgs, PerformanceArgs, Written};
use anyhow::{Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::generate::output::{performed_sequence, Panel, Performance};
use musicvae::generate::{pick, token_accuracy, Vae, WindowChoice};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ReconstructArgs {
    /// A MIDI file.
    pub file: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Which window of the file (default: the first with at least two notes per bar).
    #[arg(long)]
    pub window: Option<usize>,
    /// Take the window that starts at bar B of its section (1-based; see `musicvae inspect FILE --windows`).
    #[arg(long, value_name = "B", conflicts_with = "window")]
    pub bar: Option<usize>,
    /// Sampling temperature of the decoder (default 0 = argmax: the most likely reconstruction).
    #[arg(long, short = 't', default_value_t = 0.0)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Write the input phrase and its reconstruction (one bar of rest between) to this MIDI file.
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub refine: super::refine_arg::RefineArgs,
    #[command(flatten)]
    pub perf: PerformanceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl OnBackend for ReconstructArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        let dir = a.model.resolve_for(&[&a.file])?;
        let vae = Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        let p = pick(
            &a.file,
            &vae.config.model.data,
            WindowChoice::new(a.window, a.bar),
        )?;
        let (_, codes) = a.refine.encode(&vae, std::slice::from_ref(&p.window))?;
        let rec = vae.decode(&codes, a.temperature, a.seed)?.remove(0);
        let acc = token_accuracy(&rec, &p.window);
        println!("model: {}", vae.describe());
        println!("{}: {}", a.file.display(), p.describe());
        println!(
            "reconstruction accuracy: {:.1}% of {} steps (temperature {})",
            100.0 * acc,
            p.window.tracks.iter().map(|t| t.len()).sum::<usize>(),
            a.temperature
        );
        let per_bar: Vec<String> = (0..vae.config.model.data.slice_bars)
            .map(|b| {
                let bar =
                    |w: &musicvae::data::converter::Window| musicvae::data::converter::Window {
                        tracks: w
                            .tracks
                            .iter()
                            .map(|t| t[b * 16..(b + 1) * 16].to_vec())
                            .collect(),
                    };
                format!(
                    "{:.0}%",
                    100.0 * token_accuracy(&bar(&rec), &bar(&p.window))
                )
            })
            .collect();
        println!("per bar: {}", per_bar.join(" "));
        if let Some(out) = &a.out {
            let kind = vae.kind();
            let phrases = vec![p.window.clone(), rec.clone()];
            let perf = Performance {
                qpm: a.perf.qpm(p.qpm),
                velocity: a.perf.velocity,
                refs: vec![vec![(1.0, p.notes.as_slice())]; 2],
            };
            let seq = performed_sequence(kind, &phrases, 1, &perf);
            musicvae::music::write_midi_file(&seq, out)?;
            let mut written = Written(vec![out.clone()]);
            let panels = vec![
                Panel::input(p.window.clone(), "input"),
                Panel::decoded(rec, format!("reconstruction ({:.0}%)", 100.0 * acc)),
            ];
            let title = format!(
                "{} reconstructed by {}",
                a.file.display(),
                vae.config.model.name
            );
            a.output
                .finish(kind, &panels, &title, out, &seq, &mut written)?;
        } else if a.output.png || a.output.wav.is_some() || a.output.play {
            anyhow::bail!(
                "--png, --wav and --play need --out (they show the MIDI file written there)"
            );
        }
        Ok(())
    }
}

pub fn run(a: ReconstructArgs) -> Result<()> {
    a.output.check()?;
    a.perf.check()?;
    if let Some(out) = &a.out {
        let dir = a.model.resolve_for(&[&a.file])?;
        let files = super::guard::Files::new()
            .input("the input", &a.file)
            .model(&dir)
            .output("--out", out);
        a.output.outputs(files, out).check()?;
    }
    let kind = a.model.device;
    dispatch(kind, a)
}
