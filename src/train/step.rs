//! One optimisation step of MusicVAE, shared by the training loop and the benchmark: encode,
//! z = μ + σ·ε, decode (teacher-forced or with scheduled sampling), loss with free bits and β,
//! backward, global-norm clipping (a non-finite or huge norm skips the step), Adam at the
//! scheduled learning rate.

use super::clip::{global_norm, scale_grads};
use crate::model::batch::{Batch, TrackSpec};
use crate::model::loss::{correct_counts, vae_loss};
use crate::model::noise::StepNoise;
use crate::model::vae::DecodeMode;
use crate::model::{Config, MusicVae};
use crate::rng::Rng;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{backend::AutodiffBackend, backend::Backend, Tensor, TensorData};

/// The scalars of one step (read from the device once).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepResult {
    pub loss: f64,
    pub r_loss: f64,
    /// Mean KL over the batch, nats.
    pub kl: f64,
    /// Correct argmax predictions, summed over tracks and steps.
    pub correct: f64,
    pub global_norm: f64,
    pub skipped: bool,
}

/// ε ~ N(0, I) `[batch, z]` from the host RNG (so runs are reproducible and resumable).
pub fn host_normals<B: Backend>(
    rng: &mut Rng,
    batch: usize,
    z: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(rng.normals(batch * z), [batch, z]), device)
    // [B, Z]
}

/// The decoding mode of a training step: teacher forcing, or (with probability `p_sample` per
/// example and step) the model's own temperature-1 samples fed back.
pub fn scheduled_mode<B: Backend>(
    rng: &mut Rng,
    batch: &Batch<B>,
    specs: &[TrackSpec],
    p_sample: f64,
    device: &B::Device,
) -> DecodeMode<B> {
    let [b, steps, _] = batch.inputs.dims();
    if p_sample <= 0.0 {
        return DecodeMode::TeacherForced {
            inputs: batch.inputs.clone(),
        };
    }
    let mask: Vec<f32> = (0..b * steps)
        .map(|_| if rng.uniform() < p_sample { 1.0 } else { 0.0 })
        .collect();
    if mask.iter().all(|&m| m == 0.0) {
        return DecodeMode::TeacherForced {
            inputs: batch.inputs.clone(),
        };
    }
    let mask = Tensor::from_data(TensorData::new(mask, [b, steps]), device); // [B, T]
    DecodeMode::Stepwise {
        inputs: Some(batch.inputs.clone()),
        noise: StepNoise::draw(rng, specs, b, steps, 1.0, Some(mask), device),
    }
}

/// Run one step at global step `step` and return the updated model.
pub fn optimisation_step<B: AutodiffBackend, O: Optimizer<MusicVae<B>, B>>(
    model: MusicVae<B>,
    optim: &mut O,
    config: &Config,
    batch: &Batch<B>,
    eps: Tensor<B, 2>,
    mode: DecodeMode<B>,
    step: u64,
) -> (MusicVae<B>, StepResult) {
    let (mc, tc) = (&config.model, &config.train);
    let (mu, sigma) = model.encode(batch.inputs.clone()); // [B, Z] each
    let z = mu.clone() + sigma.clone() * eps; // [B, Z]
    let out = model.decode(z, mode);
    let terms = vae_loss(
        &out.logits,
        &batch.targets,
        mu,
        sigma,
        mc.free_nats(),
        mc.beta(step),
    );
    let correct = correct_counts(&out.logits, &batch.targets);
    let mut stats = vec![
        terms.loss.clone().inner(),
        terms.r_loss.clone().inner().mean(),
        terms.kl.clone().inner().mean(),
    ];
    stats.extend(correct.iter().map(|c| c.clone().inner().float()));
    let grads = terms.loss.backward();
    let mut gp = GradientsParams::from_grads(grads, &model);
    let norm = global_norm::<B, _>(&model, &gp);
    let skipped = !norm.is_finite() || norm > tc.grad_norm_skip;
    let model = if skipped {
        model
    } else {
        if norm > tc.grad_clip {
            scale_grads::<B, _>(&model, &mut gp, tc.grad_clip / norm);
        }
        optim.step(tc.learning_rate_at(step), model, gp)
    };
    let s: Vec<f64> = Tensor::cat(stats, 0)
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap_or_default();
    let get = |i: usize| s.get(i).copied().unwrap_or(f64::NAN);
    let result = StepResult {
        loss: get(0),
        r_loss: get(1),
        kl: get(2),
        correct: s.iter().skip(3).sum(),
        global_norm: norm,
        skipped,
    };
    (model, result)
}
