//! `musicvae sample`: phrases from the prior: the model's fitted latent prior
//! (`latent_prior.json`, written by `fit-prior`) where there is one, else z ~ N(0, I).

use super::backend::{dispatch, ModelArgs, OnBackend};
use super::output::{OutputArgs, Written};
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::{Args, ValueEnum};
use musicvae::generate::latent_prior::{scale_note, LatentPrior};
use musicvae::generate::output::{numbered_paths, phrases_sequence, Panel};
use musicvae::generate::Vae;
use musicvae::music::note_sequence::DEFAULT_QPM;
use std::path::PathBuf;

/// Where z comes from.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorChoice {
    /// The fitted latent prior when the model folder has one (latent_prior.json), else N(0, I)
    Auto,
    /// z ~ N(0, I), the VAE's prior (Magenta's sampling)
    Standard,
    /// The fitted latent prior (an error if the model has none)
    Fitted,
}

#[derive(Args, Debug)]
pub struct SampleArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// How many phrases.
    #[arg(short = 'n', long, default_value_t = 5)]
    pub num: usize,
    /// Sampling temperature (0 = argmax; Magenta's default 0.5).
    #[arg(long, short = 't', default_value_t = 0.5)]
    pub temperature: f64,
    /// Draw z from the model's fitted latent prior (the Gaussian of its training windows' codes,
    /// `musicvae fit-prior`), which gives phrases more like the training data, or from N(0, I).
    #[arg(long, value_enum, default_value_t = PriorChoice::Auto)]
    pub prior: PriorChoice,
    /// Seed of z and of the sampling noise.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Tempo of the written MIDI, quarter notes per minute.
    #[arg(long, default_value_t = DEFAULT_QPM)]
    pub qpm: f64,
    /// Output folder: sample_00.mid, sample_01.mid, ... (and samples.png with --png).
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

impl OnBackend for SampleArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        if a.num == 0 || a.num > 10_000 {
            bail!("-n must be between 1 and 10000, got {}", a.num);
        }
        if !(a.qpm.is_finite() && (1.0..=1000.0).contains(&a.qpm)) {
            bail!("--qpm must be between 1 and 1000, got {}", a.qpm);
        }
        let dir = a.model.resolve()?;
        let vae = Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        println!("model: {} from {}", vae.describe(), dir.display());
        let prior = match a.prior {
            PriorChoice::Standard => None,
            PriorChoice::Fitted => Some(LatentPrior::load(&LatentPrior::path(&dir), vae.z_size())?),
            PriorChoice::Auto => LatentPrior::beside(&dir, vae.z_size())?,
        };
        let from = match &prior {
            Some(p) => format!(
                "z from the fitted latent prior ({} training windows{})",
                p.windows,
                scale_note(p.scale)
            ),
            None => "z ~ N(0, I)".to_string(),
        };
        let t0 = std::time::Instant::now();
        let (_, phrases) = vae.sample(a.num, a.temperature, a.seed, prior.as_ref())?;
        println!(
            "sampled {} phrases ({from}, temperature {}, seed {}) in {:.2} s",
            phrases.len(),
            a.temperature,
            a.seed,
            t0.elapsed().as_secs_f64()
        );
        std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
        let kind = vae.kind();
        let mut written = Written::default();
        for p in musicvae::generate::output::write_separate(
            kind,
            &phrases,
            a.qpm,
            &a.out.join("sample.mid"),
        )? {
            written.push(p);
        }
        let panels: Vec<Panel> = phrases
            .iter()
            .zip(numbered_paths(
                &a.out.join("sample.mid"),
                phrases.len(),
                "mid",
            ))
            .map(|(w, p)| {
                Panel::decoded(
                    w.clone(),
                    p.file_name()
                        .map(|f| f.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                )
            })
            .collect();
        let title = format!(
            "{} samples from {} ({}, T = {}, seed {})",
            phrases.len(),
            vae.config.model.name,
            if prior.is_some() {
                "fitted prior"
            } else {
                "z ~ N(0, I)"
            },
            a.temperature,
            a.seed
        );
        let seq = phrases_sequence(kind, &phrases, a.qpm, 1);
        a.output.finish(
            kind,
            &panels,
            &title,
            &a.out.join("samples.mid"),
            &seq,
            &mut written,
        )?;
        Ok(())
    }
}

pub fn run(a: SampleArgs) -> Result<()> {
    a.output.check()?;
    let dir = a.model.resolve()?;
    let mut files = super::guard::Files::new().model(&dir);
    for p in numbered_paths(&a.out.join("sample.mid"), a.num, "mid") {
        files = files.output("--out", &p);
    }
    a.output
        .outputs(files, &a.out.join("samples.mid"))
        .check()?;
    let kind = a.model.device;
    dispatch(kind, a)
}
