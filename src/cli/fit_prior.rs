//! `musicvae fit-prior --model VAE_DIR --data DIR`: fit the Gaussian of the model's aggregate
//! posterior on the training-split windows (`latent_prior.json`), which `sample` then draws from.

use super::backend::{dispatch, ModelArgs, OnBackend};
use super::data_arg::{encode_windows, load_data};
use super::progress::bar;
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::generate::latent_prior::{LatentPrior, MAX_ITERATIONS};
use musicvae::generate::Vae;
use musicvae::rng::Rng;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct FitPriorArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The model's training data: a MIDI folder or a prepare cache (only its training split is
    /// encoded, so held-out windows stay unseen for eval).
    #[arg(long)]
    pub data: PathBuf,
    /// At most this many training-split windows (a seeded random subset; 0 = all).
    #[arg(long, default_value_t = 20_000)]
    pub max_windows: usize,
    /// Gaussian components of the fitted mixture (they share one covariance); 1 = the single
    /// Gaussian with the aggregate posterior's mean and covariance. Default: one per 32 windows,
    /// at most 256 (measured on the drum model: samples then come as close to training windows as
    /// real held-out beats do, not closer; see `eval --prior`).
    #[arg(long, short = 'k')]
    pub components: Option<usize>,
    /// Seed of the window subset and of the EM start.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Spread of the draws around each component's centre, saved in the fit: z = mean + S · L ε.
    /// 1 samples the fitted density itself; below 1 gives more typical phrases that lie closer
    /// to training windows (compare with `eval --prior`, whose nearest-window table shows how
    /// close, on held-out windows: the shipped drum model uses 0.7, chosen so that its samples
    /// come no closer to training windows than real held-out beats do; its card, "Run 10").
    #[arg(long, default_value_t = 1.0, value_parser = positive_scale)]
    pub scale: f64,
    /// Where to write the fit (default: latent_prior.json in the model folder).
    #[arg(long, short = 'o')]
    pub out: Option<PathBuf>,
}

impl OnBackend for FitPriorArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        let dir = a.model.resolve()?;
        let vae = Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        let cache = load_data(&a.data, &vae.config)?;
        let mut idx = cache.training_windows();
        if idx.len() < 2 {
            bail!(
                "{}: {} training-split window(s); fitting a latent prior needs at least two",
                a.data.display(),
                idx.len()
            );
        }
        Rng::new(a.seed).shuffle(&mut idx);
        if a.max_windows > 0 {
            idx.truncate(a.max_windows);
        }
        idx.sort_unstable();
        let (mus, sigmas) = encode_windows(&vae, &cache, &idx)?;
        let k = a
            .components
            .unwrap_or_else(|| default_components(mus.len()));
        let pb = bar(MAX_ITERATIONS as u64, &format!("EM, {k} components"));
        let mut prior = LatentPrior::fit(
            &vae.config.model.name,
            &a.data.display().to_string(),
            &mus,
            &sigmas,
            k,
            a.seed,
            &mut |it, ll| {
                pb.set_position(it as u64);
                pb.set_message(format!("log-likelihood {ll:.2}"));
            },
        )?;
        pb.finish_and_clear();
        prior.scale = a.scale;
        let s = &prior.summary;
        println!(
            "{}: {} training-split windows encoded with {}",
            a.data.display(),
            prior.windows,
            vae.describe()
        );
        println!(
            "aggregate posterior: mean variance per dimension {:.3} (N(0, I): 1) = Var(μ) {:.3} + E[σ²] {:.3}; |E[μ]| {:.3}; {} of {} dimensions below 0.1, {} above 2",
            s.mean_variance,
            s.mean_mu_variance,
            s.mean_sigma_squared,
            s.mean_norm,
            s.low_variance_dims,
            prior.z_size(),
            s.high_variance_dims,
        );
        let mut w = prior.weights.clone();
        w.sort_by(|x, y| y.total_cmp(x));
        println!(
            "mixture of {} Gaussian(s) with a shared covariance (mean variance per dimension {:.3}): {} EM iterations, mean log-likelihood of the training μ {:.1} nats; weights from {:.4} to {:.4} (median {:.4})",
            s.components,
            s.component_variance,
            s.iterations,
            s.log_likelihood,
            w.last().copied().unwrap_or(0.0),
            w[0],
            w[w.len() / 2]
        );
        if prior.scale != 1.0 {
            println!(
                "draws at scale {}: z = component mean + {} · L ε (variance × {:.3})",
                prior.scale,
                prior.scale,
                prior.scale * prior.scale
            );
        }
        let out = a.out.clone().unwrap_or_else(|| LatentPrior::path(&dir));
        prior.save(&out)?;
        println!(
            "wrote {} (`musicvae sample` draws from it; `--prior standard` for z ~ N(0, I))",
            out.display()
        );
        Ok(())
    }
}

/// `--scale`: a finite number above 0 (at most 4, beyond which draws leave the codes' range).
fn positive_scale(s: &str) -> std::result::Result<f64, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{s}' is not a number (e.g. 0.8)"))?;
    if v.is_finite() && v > 0.0 && v <= 4.0 {
        Ok(v)
    } else {
        Err(format!(
            "{v} is outside (0, 4]; 1 samples the fitted density itself"
        ))
    }
}

/// One component per 32 windows, at least 1 and at most 256.
fn default_components(windows: usize) -> usize {
    (windows / 32).clamp(1, 256)
}

pub fn run(a: FitPriorArgs) -> Result<()> {
    if let Some(out) = &a.out {
        let dir = a.model.resolve()?;
        super::guard::Files::new()
            .input("the model's weights", &dir.join("model.mpk"))
            .input("the model's config.json", &dir.join("config.json"))
            .output("--out", out)
            .check()?;
    }
    let kind = a.model.device;
    dispatch(kind, a)
}

#[cfg(test)]
mod tests {
    #[test]
    fn default_components_grow_with_the_data() {
        assert_eq!(super::default_components(2), 1);
        assert_eq!(super::default_components(640), 20);
        assert_eq!(super::default_components(13_696), 256);
    }

    #[test]
    fn scale_must_be_a_positive_number() {
        assert_eq!(super::positive_scale("0.8"), Ok(0.8));
        assert_eq!(super::positive_scale("1"), Ok(1.0));
        for bad in ["0", "-1", "nan", "inf", "5", "x"] {
            assert!(super::positive_scale(bad).is_err(), "{bad}");
        }
    }
}
