//! `--refine N` (with `--refine-lr`, `--refine-anchor`): refine the encoder's codes of input
//! phrases by gradient descent on z before decoding (see `musicvae::generate::refine`).

use anyhow::Result;
use clap::Args;
use musicvae::data::converter::Window;
use musicvae::generate::{Latent, RefineOptions, RefineReport, Vae};

#[derive(Args, Debug, Clone)]
pub struct RefineArgs {
    /// Refine each input phrase's code with N gradient steps on z (the decoder fixed), so the
    /// model reconstructs the phrase more faithfully than from the encoder's mean μ; 0 = decode
    /// from μ, as Magenta does. Default 100 (about a second on a CPU); `eval` defaults to 0.
    #[arg(long, value_name = "N")]
    pub refine: Option<usize>,
    /// Step size of the refinement, in units of the posterior's σ (or of the model's
    /// `neighbourhood_sigma`, when its config.json sets one).
    #[arg(long, value_name = "LR", default_value_t = RefineOptions::default().lr)]
    pub refine_lr: f64,
    /// Pull of the refined code back toward the encoder's posterior N(μ, σ²): 0 = none, 1 = the
    /// most likely code with the posterior as prior. 0.1 was chosen on held-out drum beats: the
    /// ends of an interpolation come back far closer to the inputs, and the phrases half-way
    /// look as much like real ones as between the means.
    #[arg(long, value_name = "W", default_value_t = RefineOptions::default().anchor)]
    pub refine_anchor: f64,
}

/// Refinement steps of the phrase commands (interpolate, reconstruct, morph, variations) when
/// `--refine` is not given.
pub const DEFAULT_REFINE_STEPS: usize = 100;

impl RefineArgs {
    /// Steps to take: `--refine`, or `default` (the command's own).
    pub fn steps(&self, default: usize) -> usize {
        self.refine.unwrap_or(default)
    }

    pub fn options(&self) -> RefineOptions {
        RefineOptions {
            steps: self.steps(DEFAULT_REFINE_STEPS),
            lr: self.refine_lr,
            anchor: self.refine_anchor,
        }
    }

    /// The codes to decode `windows` from: μ, or refined codes (with a progress bar).
    pub fn codes<B: burn::tensor::backend::Backend>(
        &self,
        vae: &Vae<B>,
        windows: &[Window],
        latents: &[Latent],
    ) -> Result<(Vec<Vec<f32>>, RefineReport)> {
        let opts = self.options();
        opts.validate()?;
        if opts.steps == 0 {
            return Ok(vae.refine(windows, latents, &opts, |_| {})?);
        }
        let pb = super::progress::bar(windows.len() as u64, "refining codes");
        let out = vae.refine(windows, latents, &opts, |done| pb.set_position(done as u64))?;
        pb.finish_and_clear();
        Ok(out)
    }

    /// Encode `windows` and give the codes to decode them from, saying what refinement did (on
    /// standard output).
    pub fn encode<B: burn::tensor::backend::Backend>(
        &self,
        vae: &Vae<B>,
        windows: &[Window],
    ) -> Result<(Vec<Latent>, Vec<Vec<f32>>)> {
        self.encode_saying(vae, windows, |line| println!("{line}"))
    }

    /// [`encode`](Self::encode), handing the line that says what refinement did to `say`.
    pub fn encode_saying<B: burn::tensor::backend::Backend>(
        &self,
        vae: &Vae<B>,
        windows: &[Window],
        say: impl FnOnce(String),
    ) -> Result<(Vec<Latent>, Vec<Vec<f32>>)> {
        let latents = vae.encode(windows)?;
        let (zs, report) = self.codes(vae, windows, &latents)?;
        let steps = self.options().steps;
        if steps > 0 {
            say(format!(
                "refined the input code{} ({steps} steps; --refine 0 decodes from μ): reconstruction loss {:.1} → {:.1} nats, moved {:.1} {} from μ",
                if windows.len() == 1 { "" } else { "s" },
                report.r_loss_before,
                report.r_loss_after,
                report.mean_shift,
                vae.neighbourhood_unit()
            ));
        }
        Ok((latents, zs))
    }
}
