//! `musicvae variations FILE.mid -n 8 --amount 0.5`: phrases similar to the input (magenta.js's
//! `similar`): z = μ + amount·σ·ε, decoded and listed by how far each is from the input.

use super::backend::{dispatch, ModelArgs, OnBackend, WindowArgs};
use super::guard::Files;
use super::output::{OutputArgs, PerformanceArgs, Written};
use anyhow::{bail, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::generate::grid::{variation_codes, VariationScale};
use musicvae::generate::output::{performed_sequence, Panel, Performance};
use musicvae::generate::{pick, token_accuracy};
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  musicvae variations midi_data/irish/oneills_0000.mid -n 8 --amount 0.5 --png"
)]
pub struct VariationsArgs {
    /// A MIDI file.
    pub file: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// How many variations.
    #[arg(long, short = 'n', default_value_t = 8)]
    pub num: usize,
    /// How far from the input: z = μ + amount·σ·ε, in units of the encoder's σ (amount 1 = one
    /// draw from the posterior q(z|x); a model whose config sets `neighbourhood_sigma` uses that
    /// σ instead, as refinement does); with --prior-units, z = μ + amount·ε (amount 1 = the
    /// prior's standard deviation, a much larger step for a trained model).
    #[arg(
        long,
        short = 'a',
        default_value_t = 0.5,
        allow_negative_numbers = true
    )]
    pub amount: f64,
    /// Measure --amount in units of the prior N(0, I) instead of the posterior's σ.
    #[arg(long)]
    pub prior_units: bool,
    /// Sampling temperature of the decoder (0 = argmax: differences then come from z alone).
    #[arg(long, short = 't', default_value_t = 0.0)]
    pub temperature: f64,
    /// Seed of ε and of the sampling noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub phrase: WindowArgs,
    /// Output MIDI file: the input phrase, then the variations from nearest to farthest, a bar of
    /// rest between them.
    #[arg(long, short = 'o', default_value = "variations.mid")]
    pub out: PathBuf,
    #[command(flatten)]
    pub refine: super::refine_arg::RefineArgs,
    #[command(flatten)]
    pub perf: PerformanceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl OnBackend for VariationsArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        let t0 = Instant::now();
        let vae = a.model.load_for::<B>(&[&a.file], device)?;
        let p = pick(&a.file, &vae.config.model.data, a.phrase.choice())?;
        println!("{}: {}", a.file.display(), p.describe());
        let (mut lats, mut codes) = a.refine.encode(&vae, std::slice::from_ref(&p.window))?;
        let (lat, centre) = (lats.remove(0), codes.remove(0));
        let scale = if a.prior_units {
            VariationScale::Prior
        } else {
            VariationScale::Posterior
        };
        let spread = vae.neighbourhood_sigma(&lat);
        let zs = variation_codes(&centre, &spread, a.num, a.amount, scale, a.seed);
        let decoded = vae.decode(&zs, a.temperature, a.seed.wrapping_add(1))?;
        let mut ranked: Vec<(f64, musicvae::data::converter::Window)> = decoded
            .into_iter()
            .map(|w| (1.0 - token_accuracy(&w, &p.window), w))
            .collect();
        ranked.sort_by(|x, y| x.0.total_cmp(&y.0));
        println!(
            "decoded {} variations (amount {} in units of {}, temperature {}, seed {}) in {:.2} s (model load included)",
            a.num,
            a.amount,
            if a.prior_units {
                "the prior".to_string()
            } else {
                vae.neighbourhood_unit()
            },
            a.temperature,
            a.seed,
            t0.elapsed().as_secs_f64()
        );
        for (i, (d, _)) in ranked.iter().enumerate() {
            println!(
                "  variation {}: {:.0}% of steps differ from the input",
                i + 1,
                100.0 * d
            );
        }
        let kind = vae.kind();
        let mut phrases = vec![p.window.clone()];
        phrases.extend(ranked.iter().map(|(_, w)| w.clone()));
        let perf = Performance {
            qpm: a.perf.qpm(p.qpm),
            velocity: a.perf.velocity,
            refs: vec![vec![(1.0, p.notes.as_slice())]; phrases.len()],
        };
        let seq = performed_sequence(kind, &phrases, 1, &perf);
        musicvae::music::write_midi_file(&seq, &a.out)?;
        let mut written = Written(vec![a.out.clone()]);
        let mut panels = vec![Panel::input(p.window.clone(), "input")];
        panels.extend(ranked.iter().enumerate().map(|(i, (d, w))| {
            Panel::decoded(w.clone(), format!("{} ({:.0}% differ)", i + 1, 100.0 * d))
        }));
        let title = format!(
            "{} variations of {} (amount {}{}, {})",
            a.num,
            a.file.display(),
            a.amount,
            if a.prior_units { " prior" } else { " sigma" },
            vae.config.model.name
        );
        a.output
            .finish(kind, &panels, &title, &a.out, &seq, &mut written)?;
        Ok(())
    }
}

pub fn run(a: VariationsArgs) -> Result<()> {
    if !(1..=256).contains(&a.num) {
        bail!("-n must be between 1 and 256 variations, got {}", a.num);
    }
    if !a.amount.is_finite() || a.amount < 0.0 || a.amount > 100.0 {
        bail!(
            "--amount must be a number from 0 to 100 (how far from the input), got {}",
            a.amount
        );
    }
    if !a.temperature.is_finite() || a.temperature < 0.0 {
        bail!("--temperature must be 0 or more, got {}", a.temperature);
    }
    a.output.check()?;
    a.perf.check()?;
    let dir = a.model.resolve_for(&[&a.file])?;
    let files = Files::new()
        .input("the input", &a.file)
        .model(&dir)
        .output("--out", &a.out);
    a.output.outputs(files, &a.out).check()?;
    let kind = a.model.device;
    dispatch(kind, a)
}
