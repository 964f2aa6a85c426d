//! `musicvae chain A.mid B.mid C.mid … --bars-between K`: one long piece that passes through the
//! given phrases in order, K interpolated phrases between each pair (slerp of the codes), written
//! as one MIDI file; `--loop` returns to the first phrase.

use super::backend::{dispatch, ModelArgs, OnBackend, WindowArgs};
use super::guard::Files;
use super::output::{OutputArgs, PerformanceArgs, Written};
use anyhow::{bail, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::generate::grid::chain_codes;
use musicvae::generate::output::{performed_sequence, Panel, Performance};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
#[command(
    after_help = "Example (8 inputs, 3 phrases between each pair: 29 two-bar phrases, 58 bars):\n  musicvae chain midi_data/irish/*.mid --bars-between 3 --loop -o chain.mid --png --wav chain.wav"
)]
pub struct ChainArgs {
    /// The phrases to pass through, in order (MIDI files; at least 2).
    #[arg(value_name = "FILES", num_args = 1..)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Interpolated phrases between each pair of inputs (0–64).
    #[arg(
        long = "bars-between",
        visible_alias = "between",
        short = 'k',
        default_value_t = 3,
        value_name = "K"
    )]
    pub between: usize,
    /// Return to the first phrase at the end.
    #[arg(long = "loop")]
    pub closed: bool,
    /// Path between codes: slerp (Magenta) or linear (magenta.js).
    #[arg(long, value_enum, default_value_t = super::interpolate::Path::Slerp)]
    pub path: super::interpolate::Path,
    /// Sampling temperature of the decoder (0 = argmax).
    #[arg(long, short = 't', default_value_t = 0.5)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub phrase: WindowArgs,
    /// Bars of rest between consecutive phrases (0: one continuous piece).
    #[arg(long, default_value_t = 0)]
    pub gap_bars: usize,
    /// Output MIDI file.
    #[arg(long, short = 'o', default_value = "chain.mid")]
    pub out: PathBuf,
    #[command(flatten)]
    pub refine: super::refine_arg::RefineArgs,
    #[command(flatten)]
    pub perf: PerformanceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl OnBackend for ChainArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        let t0 = Instant::now();
        let vae = a.model.load_for::<B>(
            &a.files.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
            device,
        )?;
        let cfg = &vae.config.model.data;
        let picked = a.phrase.pick_each(&a.files, cfg)?;
        for (i, p) in picked.iter().enumerate() {
            println!("{}: {}, {}", i + 1, p.path.display(), p.describe());
        }
        let windows: Vec<_> = picked.iter().map(|p| p.window.clone()).collect();
        let (_, mus) = a.refine.encode(&vae, &windows)?;
        let how = a.path.interpolation();
        let (zs, place) = chain_codes(&mus, a.between, a.closed, how);
        let phrases = vae.decode(&zs, a.temperature, a.seed)?;
        let bars = vae.config.model.data.slice_bars;
        println!(
            "decoded {} phrases ({} bars{}) in {:.2} s (model load included)",
            phrases.len(),
            phrases.len() * bars + phrases.len().saturating_sub(1) * a.gap_bars,
            if a.closed {
                ", looping back to the first"
            } else {
                ""
            },
            t0.elapsed().as_secs_f64()
        );
        // Dynamics: a phrase between inputs k and k+1 blends their velocities by its t.
        let n = picked.len();
        let perf = Performance {
            qpm: a.perf.qpm(picked[0].qpm),
            velocity: a.perf.velocity,
            refs: place
                .iter()
                .map(|&(k, t)| {
                    vec![
                        (1.0 - t, picked[k % n].notes.as_slice()),
                        (t, picked[(k + 1) % n].notes.as_slice()),
                    ]
                })
                .collect(),
        };
        let kind = vae.kind();
        let seq = performed_sequence(kind, &phrases, a.gap_bars, &perf);
        musicvae::music::write_midi_file(&seq, &a.out)?;
        let mut written = Written(vec![a.out.clone()]);
        let panels: Vec<Panel> = phrases
            .iter()
            .zip(&place)
            .map(|(w, &(k, t))| {
                if t == 0.0 || t == 1.0 {
                    let i = if t == 0.0 { k % n } else { (k + 1) % n };
                    Panel::decoded(w.clone(), format!("input {}", i + 1)).mark()
                } else {
                    Panel::decoded(
                        w.clone(),
                        format!("{}->{} t={t:.2}", k % n + 1, (k + 1) % n + 1),
                    )
                }
            })
            .collect();
        let title = format!(
            "chain through {} phrases, {} between each pair ({})",
            n, a.between, vae.config.model.name
        );
        a.output
            .finish(kind, &panels, &title, &a.out, &seq, &mut written)?;
        Ok(())
    }
}

pub fn run(a: ChainArgs) -> Result<()> {
    if a.files.len() < 2 {
        bail!(
            "chain needs at least 2 MIDI files to pass through, got {}",
            a.files.len()
        );
    }
    if a.files.len() > 256 {
        bail!("chain takes at most 256 files, got {}", a.files.len());
    }
    if a.between > 64 {
        bail!(
            "--bars-between must be between 0 and 64 phrases, got {}",
            a.between
        );
    }
    if a.gap_bars > 16 {
        bail!("--gap-bars must be between 0 and 16, got {}", a.gap_bars);
    }
    a.output.check()?;
    a.perf.check()?;
    let dir = a
        .model
        .resolve_for(&a.files.iter().map(|p| p.as_path()).collect::<Vec<_>>())?;
    let mut files = Files::new().model(&dir);
    for f in &a.files {
        files = files.input("an input", f);
    }
    a.output
        .outputs(files.output("--out", &a.out), &a.out)
        .check()?;
    let kind = a.model.device;
    dispatch(kind, a)
}
