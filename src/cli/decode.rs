//! `musicvae decode Z.json`: latent vectors → MIDI.

use super::backend::{dispatch, ModelArgs, OnBackend};
use super::output::{OutputArgs, Written};
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::generate::latent_file::parse_latent_json;
use musicvae::generate::output::{phrases_sequence, write_joined, Panel};
use musicvae::generate::Vae;
use musicvae::music::midi_in::{MAX_QPM, MIN_QPM};
use musicvae::music::note_sequence::DEFAULT_QPM;
use musicvae::rng::Rng;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct DecodeArgs {
    /// JSON from `musicvae encode`, a vector `[...]`, a list of vectors, or `{"z": [...]}`.
    pub file: PathBuf,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Sampling temperature (0 = argmax; Magenta's default 0.5).
    #[arg(long, short = 't', default_value_t = 0.5)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Decode z = μ + σ·ε (a sample of the posterior) instead of μ (needs σ from `encode`).
    #[arg(long)]
    pub sample: bool,
    /// Tempo of the output (default: the encoded file's, else 120).
    #[arg(long)]
    pub qpm: Option<f64>,
    /// Output MIDI file; several vectors are written one after another with a bar of rest.
    #[arg(long, short = 'o', default_value = "decoded.mid")]
    pub out: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl OnBackend for DecodeArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        if let Some(q) = a.qpm {
            if !(MIN_QPM..=MAX_QPM).contains(&q) {
                bail!("--qpm {q} is not a tempo (accepted: {MIN_QPM}–{MAX_QPM} quarter notes per minute)");
            }
        }
        let bytes =
            std::fs::read(&a.file).with_context(|| format!("reading {}", a.file.display()))?;
        let input = parse_latent_json(&a.file, &bytes)?;
        let dir = a.model.resolve()?;
        let vae = Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        if let Some(m) = &input.model {
            if m != &vae.config.model.name {
                eprintln!(
                    "note: {} was encoded with model {m}; decoding with {}",
                    a.file.display(),
                    vae.config.model.name
                );
            }
        }
        let zs = match (&input.sigma, a.sample) {
            (Some(sig), true) => {
                let mut rng = Rng::new(a.seed ^ 0x5eed);
                input
                    .mu
                    .iter()
                    .zip(sig)
                    .map(|(m, s)| {
                        m.iter()
                            .zip(s)
                            .map(|(m, s)| m + s * rng.normal() as f32)
                            .collect()
                    })
                    .collect()
            }
            (None, true) => bail!(
                "{}: --sample needs σ, which only files written by `musicvae encode` hold",
                a.file.display()
            ),
            _ => input.mu.clone(),
        };
        let phrases = vae
            .decode(&zs, a.temperature, a.seed)
            .with_context(|| format!("decoding {}", a.file.display()))?;
        let qpm = a.qpm.or(input.qpm).unwrap_or(DEFAULT_QPM);
        let kind = vae.kind();
        write_joined(kind, &phrases, qpm, 1, &a.out)?;
        let mut written = Written(vec![a.out.clone()]);
        let panels: Vec<Panel> = phrases
            .iter()
            .enumerate()
            .map(|(i, w)| Panel::decoded(w.clone(), format!("z {i}")))
            .collect();
        let title = format!(
            "{} decoded with {} (T = {})",
            a.file.display(),
            vae.config.model.name,
            a.temperature
        );
        a.output.finish(
            kind,
            &panels,
            &title,
            &a.out,
            &phrases_sequence(kind, &phrases, qpm, 1),
            &mut written,
        )?;
        println!(
            "decoded {} vector(s) with {}",
            phrases.len(),
            vae.describe()
        );
        Ok(())
    }
}

pub fn run(a: DecodeArgs) -> Result<()> {
    a.output.check()?;
    let dir = a.model.resolve()?;
    let files = super::guard::Files::new()
        .input("the input", &a.file)
        .model(&dir)
        .output("--out", &a.out);
    a.output.outputs(files, &a.out).check()?;
    let kind = a.model.device;
    dispatch(kind, a)
}
