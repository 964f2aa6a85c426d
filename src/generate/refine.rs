//! Latent refinement: the encoder's μ is an amortised guess at a window's code, and on phrases
//! unlike the training data it is a poor one (the decoder reconstructs a held-out window from a
//! better z than the encoder gives it). A few steps of gradient descent on z, with the decoder's
//! weights fixed, find such a code: z = μ + σ·u, minimising over u
//!
//! ```text
//! r_loss(x | z) + anchor · ½‖u‖²
//! ```
//!
//! the window's teacher-forced reconstruction loss plus a pull back toward the posterior q(z|x)
//! (anchor = 1 is the MAP code under q as the prior), so the code stays where the encoder put
//! related phrases and interpolations between refined codes stay in the model's space. Adam on u
//! (per-coordinate steps in units of the posterior's σ); each window keeps the best u it visited.
//! Runs on the autodiff wrapper of the inference backend. The σ here is the one in `latents`:
//! [`Vae::refine`](super::Vae::refine) hands in the model's neighbourhood σ, which a model whose
//! encoder's posterior is much tighter than its decoder's training noise sets in its config
//! (`model.neighbourhood_sigma`).

use super::inference::Latent;
use crate::data::converter::{DataKind, Window};
use crate::error::{Error, Result};
use crate::model::batch::make_batch;
use crate::model::loss::cross_entropy_sum;
use crate::model::vae::{DecodeMode, MusicVae};
use burn::backend::Autodiff;
use burn::tensor::{backend::Backend, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Windows refined per batch.
const REFINE_BATCH: usize = 128;

/// The most refinement steps accepted (each is a decoder pass forward and back).
pub const MAX_REFINE_STEPS: usize = 10_000;

/// How to refine codes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RefineOptions {
    /// Gradient steps (0 = keep z = μ).
    pub steps: usize,
    /// Adam's step size on u (units of the posterior's σ).
    pub lr: f64,
    /// Weight of the pull toward q(z|x): ½·anchor·‖(z − μ)/σ‖².
    pub anchor: f64,
}

impl Default for RefineOptions {
    fn default() -> Self {
        RefineOptions {
            steps: 0,
            lr: 0.1,
            anchor: 0.1,
        }
    }
}

impl RefineOptions {
    /// Check the values (they come from the command line).
    pub fn validate(&self) -> Result<()> {
        if self.steps > MAX_REFINE_STEPS {
            return Err(Error::Invalid(format!(
                "refinement steps must be at most {MAX_REFINE_STEPS} (100 is plenty), got {}",
                self.steps
            )));
        }
        if !(self.lr.is_finite() && self.lr > 0.0 && self.lr <= 10.0) {
            return Err(Error::Invalid(format!(
                "the refinement step size must be in (0, 10], got {}",
                self.lr
            )));
        }
        if !(self.anchor.is_finite() && self.anchor >= 0.0) {
            return Err(Error::Invalid(format!(
                "the refinement anchor must be a finite number ≥ 0, got {}",
                self.anchor
            )));
        }
        Ok(())
    }
}

/// What refinement did to a set of windows (mean objective per window, nats).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefineReport {
    pub windows: usize,
    /// Teacher-forced reconstruction loss at z = μ.
    pub r_loss_before: f64,
    /// Teacher-forced reconstruction loss at the refined z.
    pub r_loss_after: f64,
    /// Mean ‖(z − μ)/σ‖ of the refined codes: how far they moved, in posterior σ.
    pub mean_shift: f64,
}

/// Refine the codes of `windows` (their posteriors `latents`) with `model`'s decoder, whose weights
/// stay fixed. `progress` is called with the number of windows finished after each batch.
pub fn refine_latents<B: Backend>(
    model: &MusicVae<Autodiff<B>>,
    kind: DataKind,
    windows: &[Window],
    latents: &[Latent],
    opts: &RefineOptions,
    device: &B::Device,
    mut progress: impl FnMut(usize),
) -> Result<(Vec<Vec<f32>>, RefineReport)> {
    opts.validate()?;
    if windows.len() != latents.len() {
        return Err(Error::Invalid(format!(
            "{} windows but {} codes to refine",
            windows.len(),
            latents.len()
        )));
    }
    let mut out = Vec::with_capacity(windows.len());
    let mut report = RefineReport {
        windows: windows.len(),
        ..RefineReport::default()
    };
    let mut done = 0;
    for (wins, lats) in windows
        .chunks(REFINE_BATCH)
        .zip(latents.chunks(REFINE_BATCH))
    {
        let (zs, before, after, shift) = refine_batch(model, kind, wins, lats, opts, device)?;
        report.r_loss_before += before;
        report.r_loss_after += after;
        report.mean_shift += shift;
        out.extend(zs);
        done += wins.len();
        progress(done);
    }
    if !windows.is_empty() {
        let n = windows.len() as f64;
        report.r_loss_before /= n;
        report.r_loss_after /= n;
        report.mean_shift /= n;
    }
    Ok((out, report))
}

/// One batch: the refined codes and the sums over its windows of the loss before, after and the
/// shift ‖u‖.
fn refine_batch<B: Backend>(
    model: &MusicVae<Autodiff<B>>,
    kind: DataKind,
    windows: &[Window],
    latents: &[Latent],
    opts: &RefineOptions,
    device: &B::Device,
) -> Result<(Vec<Vec<f32>>, f64, f64, f64)> {
    let b = windows.len();
    let zd = latents.first().map(|l| l.mu.len()).unwrap_or(0);
    if latents
        .iter()
        .any(|l| l.mu.len() != zd || l.sigma.len() != zd)
    {
        return Err(Error::Invalid(
            "the codes to refine do not all have the same size".into(),
        ));
    }
    let mu: Vec<f32> = latents.iter().flat_map(|l| l.mu.iter().copied()).collect();
    let sigma: Vec<f32> = latents
        .iter()
        .flat_map(|l| l.sigma.iter().copied())
        .collect();
    let refs: Vec<&Window> = windows.iter().collect();
    let batch = make_batch::<Autodiff<B>>(kind, &refs, device);
    let mu_t: Tensor<Autodiff<B>, 2> =
        Tensor::from_data(TensorData::new(mu.clone(), [b, zd]), device); // [b, Z]
    let sigma_t: Tensor<Autodiff<B>, 2> =
        Tensor::from_data(TensorData::new(sigma.clone(), [b, zd]), device); // [b, Z]

    let mut u = vec![0f32; b * zd];
    let (mut m, mut v) = (vec![0f32; b * zd], vec![0f32; b * zd]);
    let mut best_u = u.clone();
    let mut best_obj = vec![f64::INFINITY; b];
    let mut best_r = vec![0f64; b];
    let mut first_r = vec![0f64; b];
    let (beta1, beta2, eps) = (0.9f32, 0.999f32, 1e-8f32);
    for it in 0..=opts.steps {
        let u_t: Tensor<Autodiff<B>, 2> =
            Tensor::from_data(TensorData::new(u.clone(), [b, zd]), device).require_grad(); // [b, Z]
        let z = mu_t.clone() + sigma_t.clone() * u_t.clone(); // [b, Z]
        let out = model.decode(
            z,
            DecodeMode::TeacherForced {
                inputs: batch.inputs.clone(),
            },
        );
        let mut r: Option<Tensor<Autodiff<B>, 1>> = None;
        for (l, t) in out.logits.iter().zip(&batch.targets) {
            let ce = cross_entropy_sum(l.clone(), t.clone()); // [b]
            r = Some(match r {
                Some(acc) => acc + ce,
                None => ce,
            });
        }
        let r = r.ok_or_else(|| Error::Invalid("a model without tracks".into()))?; // [b]
        let pull = u_t
            .clone()
            .powf_scalar(2.0)
            .sum_dim(1)
            .reshape([b])
            .mul_scalar(0.5 * opts.anchor); // [b]
        let obj = r.clone() + pull; // [b]
        let r_host = host_f64(r.clone().inner())?;
        let obj_host = host_f64(obj.clone().inner())?;
        if it == 0 {
            first_r.clone_from(&r_host);
        }
        for i in 0..b {
            if obj_host[i] < best_obj[i] {
                best_obj[i] = obj_host[i];
                best_r[i] = r_host[i];
                best_u[i * zd..(i + 1) * zd].copy_from_slice(&u[i * zd..(i + 1) * zd]);
            }
        }
        if it == opts.steps {
            break;
        }
        let grads = obj.sum().backward();
        let g = match u_t.grad(&grads) {
            Some(g) => host_f32(g)?,
            None => return Err(Error::Invalid("no gradient reached the latent code".into())),
        };
        let t = (it + 1) as i32;
        let (c1, c2) = (1.0 - beta1.powi(t), 1.0 - beta2.powi(t));
        let lr = opts.lr as f32;
        for k in 0..u.len() {
            m[k] = beta1 * m[k] + (1.0 - beta1) * g[k];
            v[k] = beta2 * v[k] + (1.0 - beta2) * g[k] * g[k];
            u[k] -= lr * (m[k] / c1) / ((v[k] / c2).sqrt() + eps);
        }
    }
    let zs: Vec<Vec<f32>> = (0..b)
        .map(|i| {
            (0..zd)
                .map(|j| mu[i * zd + j] + sigma[i * zd + j] * best_u[i * zd + j])
                .collect()
        })
        .collect();
    let shift: f64 = (0..b)
        .map(|i| {
            best_u[i * zd..(i + 1) * zd]
                .iter()
                .map(|&x| (x as f64) * (x as f64))
                .sum::<f64>()
                .sqrt()
        })
        .sum();
    Ok((zs, first_r.iter().sum(), best_r.iter().sum(), shift))
}

fn host_f64<B: Backend>(t: Tensor<B, 1>) -> Result<Vec<f64>> {
    t.into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .map_err(|e| Error::Invalid(format!("reading the refinement loss: {e:?}")))
}

fn host_f32<B: Backend>(t: Tensor<B, 2>) -> Result<Vec<f32>> {
    t.into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("reading the latent gradient: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::Vae;
    use crate::model::store::save_model;
    use crate::model::Config;
    use crate::rng::Rng;
    use crate::train::eval::accuracy_at;

    type Cpu = burn::backend::NdArray<f32>;

    /// A freshly initialised model of `preset` saved in a temporary folder, and windows of
    /// random tokens for it.
    fn fixture(preset: &str) -> (tempfile::TempDir, Vae<Cpu>, Vec<Window>) {
        fixture_with(preset, None)
    }

    /// [`fixture`] with the config's `neighbourhood_sigma` set.
    fn fixture_with(
        preset: &str,
        neighbourhood_sigma: Option<f64>,
    ) -> (tempfile::TempDir, Vae<Cpu>, Vec<Window>) {
        let mut cfg = Config::preset(preset).expect("preset");
        cfg.model.neighbourhood_sigma = neighbourhood_sigma;
        let dir = tempfile::tempdir().expect("tempdir");
        let model = MusicVae::<Cpu>::new(&cfg.model, 3, &Default::default());
        save_model(dir.path(), &model, &cfg).expect("save");
        let vae = Vae::<Cpu>::load(dir.path(), &Default::default()).expect("load");
        let mut rng = Rng::new(9);
        let windows = (0..5)
            .map(|_| Window {
                tracks: vae
                    .model
                    .tracks
                    .iter()
                    .map(|t| {
                        (0..vae.steps())
                            .map(|_| rng.below(t.depth) as u16)
                            .collect()
                    })
                    .collect(),
            })
            .collect();
        (dir, vae, windows)
    }

    #[test]
    fn zero_steps_keep_the_encoders_mean() {
        let (_d, vae, windows) = fixture("tiny");
        let lat = vae.encode(&windows).expect("encode");
        let opts = RefineOptions::default();
        let (zs, report) = vae.refine(&windows, &lat, &opts, |_| {}).expect("refine");
        assert_eq!(report.windows, 5);
        for (z, l) in zs.iter().zip(&lat) {
            assert_eq!(z, &l.mu);
        }
    }

    #[test]
    fn refinement_lowers_the_reconstruction_loss_flat_and_hierarchical() {
        for preset in ["tiny", "tiny-hier"] {
            let (_d, vae, windows) = fixture(preset);
            let lat = vae.encode(&windows).expect("encode");
            let mut seen = Vec::new();
            let opts = RefineOptions {
                steps: 40,
                lr: 0.3,
                anchor: 0.0,
            };
            let (zs, report) = vae
                .refine(&windows, &lat, &opts, |n| seen.push(n))
                .expect("refine");
            assert_eq!(seen.last(), Some(&5), "{preset}: progress {seen:?}");
            assert_eq!(zs.len(), 5);
            // A fresh hierarchical model barely listens to z (its conductor's input layer starts
            // at a scale of 0.001), so only the flat one is held to a clear fall.
            let fall = if preset == "tiny" { 0.5 } else { 0.0 };
            assert!(
                report.r_loss_after < report.r_loss_before - fall,
                "{preset}: {report:?}"
            );
            assert!(report.mean_shift > 0.0, "{preset}: {report:?}");
            // A code the decoder fits better is reconstructed at least as well, teacher-forced.
            let refs: Vec<&Window> = windows.iter().collect();
            let mus: Vec<Vec<f32>> = lat.iter().map(|l| l.mu.clone()).collect();
            let dev = Default::default();
            let cfg = &vae.config.model;
            let (tf_mu, _) = accuracy_at(&vae.model, cfg, &refs, &mus, 8, 0, &dev);
            let (tf_refined, _) = accuracy_at(&vae.model, cfg, &refs, &zs, 8, 0, &dev);
            assert!(tf_refined >= tf_mu, "{preset}: {tf_refined} < {tf_mu}");
        }
    }

    #[test]
    fn the_anchor_keeps_the_objective_below_its_start() {
        // With the pull toward q, the kept code's loss plus pull never exceeds the loss at μ, so
        // the loss alone cannot either; a strong pull moves the code less than a weak one.
        let (_d, vae, windows) = fixture("tiny");
        let lat = vae.encode(&windows).expect("encode");
        let run = |anchor: f64| {
            let opts = RefineOptions {
                steps: 20,
                lr: 0.3,
                anchor,
            };
            vae.refine(&windows, &lat, &opts, |_| {}).expect("refine").1
        };
        let (strong, weak) = (run(10.0), run(0.01));
        assert!(strong.r_loss_after <= strong.r_loss_before, "{strong:?}");
        assert!(strong.mean_shift < weak.mean_shift, "{strong:?} {weak:?}");
    }

    #[test]
    fn the_models_neighbourhood_sigma_is_the_unit_of_the_steps() {
        // Adam moves each coordinate of u by about lr per step, so z moves by about lr·σ: with
        // the config's σ = 1e-4 the codes stay within 2·steps·lr·σ of μ, while the same steps
        // in units of a fresh encoder's posterior σ (≈ 0.7) move them much further.
        let opts = RefineOptions {
            steps: 20,
            lr: 0.3,
            anchor: 0.0,
        };
        let moved = |sigma: Option<f64>| {
            let (_d, vae, windows) = fixture_with("tiny", sigma);
            let lat = vae.encode(&windows).expect("encode");
            let around = vae.neighbourhood_sigma(&lat[0]);
            let (zs, _) = vae.refine(&windows, &lat, &opts, |_| {}).expect("refine");
            let far = zs
                .iter()
                .zip(&lat)
                .flat_map(|(z, l)| z.iter().zip(&l.mu).map(|(a, b)| (a - b).abs()))
                .fold(0f32, f32::max);
            (around, lat[0].sigma.clone(), far)
        };
        let (around, _, far) = moved(Some(1e-4));
        assert!(around.iter().all(|&s| s == 1e-4), "{around:?}");
        assert!(far > 0.0 && far <= 2.0 * 20.0 * 0.3 * 1e-4, "moved {far}");
        let (around, posterior, far) = moved(None);
        assert_eq!(around, posterior);
        assert!(far > 0.01, "moved {far}");
    }

    #[test]
    fn bad_options_are_refused() {
        for (lr, anchor) in [(0.0, 1.0), (f64::NAN, 1.0), (20.0, 1.0), (0.1, -1.0)] {
            let o = RefineOptions {
                steps: 1,
                lr,
                anchor,
            };
            assert!(o.validate().is_err(), "{lr} {anchor}");
        }
        assert!(RefineOptions::default().validate().is_ok());
        let too_many = RefineOptions {
            steps: MAX_REFINE_STEPS + 1,
            ..RefineOptions::default()
        };
        assert!(too_many.validate().is_err());
    }
}
