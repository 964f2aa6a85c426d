//! Evaluation on held-out windows, on the inner (non-autodiff) backend: teacher-forced and sampled
//! (free-running, temperature-1 samples fed back, as Magenta's eval with sampling probability 1)
//! accuracy, overall and per bar position; reconstruction loss and KL.

use super::rng::Rng;
use crate::data::converter::Window;
use crate::model::batch::make_batch;
use crate::model::config::ModelConfig;
use crate::model::decoder::StepNoise;
use crate::model::loss::vae_loss;
use crate::model::vae::{track_specs, DecodeMode, MusicVae};
use burn::tensor::{backend::Backend, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Held-out figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EvalResult {
    pub windows: usize,
    pub teacher_forced_accuracy: f64,
    pub sampled_accuracy: f64,
    /// Accuracy per bar position (teacher-forced / sampled).
    pub tf_per_bar: Vec<f64>,
    pub sampled_per_bar: Vec<f64>,
    /// Per track (trio: melody, bass, drums).
    pub tf_per_track: Vec<f64>,
    pub sampled_per_track: Vec<f64>,
    pub r_loss: f64,
    pub kl_bits: f64,
}

fn to_vec_i64<B: Backend>(t: Tensor<B, 2, burn::tensor::Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .unwrap_or_default()
}

fn to_vec_f64<B: Backend>(t: Tensor<B, 1>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap_or_default()
}

/// Evaluate `model` on `windows` in batches of `batch`. `seed` fixes the sampling noise (ε is not
/// drawn: z = μ, as for reconstruction).
pub fn evaluate<B: Backend>(
    model: &MusicVae<B>,
    cfg: &ModelConfig,
    windows: &[&Window],
    batch: usize,
    seed: u64,
    device: &B::Device,
) -> EvalResult {
    let steps = cfg.data.steps();
    let bars = cfg.data.slice_bars;
    let specs = track_specs(cfg);
    let nt = specs.len();
    let mut rng = Rng::new(seed);
    let (mut tf_bar, mut sa_bar) = (vec![0usize; bars], vec![0usize; bars]);
    let (mut tf_track, mut sa_track) = (vec![0usize; nt], vec![0usize; nt]);
    let (mut r_sum, mut kl_sum) = (0.0, 0.0);
    let mut n = 0usize;
    for chunk in windows.chunks(batch.max(1)) {
        let b = chunk.len();
        let bt = make_batch::<B>(cfg.data.kind, chunk, device);
        let (mu, sigma) = model.encode(bt.inputs.clone());
        let tf = model.decode(
            cfg,
            mu.clone(),
            steps,
            DecodeMode::TeacherForced {
                inputs: bt.inputs.clone(),
            },
        );
        let terms = vae_loss(
            &tf.logits,
            &bt.targets,
            mu.clone(),
            sigma,
            cfg.free_nats(),
            0.0,
        );
        r_sum += to_vec_f64(terms.r_loss).iter().sum::<f64>();
        kl_sum += to_vec_f64(terms.kl).iter().sum::<f64>();
        let gumbel = specs
            .iter()
            .map(|s| {
                Tensor::from_data(
                    TensorData::new(rng.gumbels(b * steps * s.depth), [b, steps, s.depth]),
                    device,
                )
            })
            .collect();
        let sampled = model.decode(
            cfg,
            mu,
            steps,
            DecodeMode::Stepwise {
                inputs: None,
                noise: StepNoise {
                    feed_sample: None,
                    gumbel: Some(gumbel),
                    temperature: 1.0,
                },
            },
        );
        for k in 0..nt {
            let target = to_vec_i64(bt.targets[k].clone());
            // Accuracy = argmax of the logits vs the target, at every step.
            let tf_pred = to_vec_i64(tf.logits[k].clone().argmax(2).squeeze_dim::<2>(2));
            let sa_pred = to_vec_i64(sampled.logits[k].clone().argmax(2).squeeze_dim::<2>(2));
            for i in 0..b * steps {
                let bar = (i % steps) / 16;
                if tf_pred[i] == target[i] {
                    tf_bar[bar] += 1;
                    tf_track[k] += 1;
                }
                if sa_pred[i] == target[i] {
                    sa_bar[bar] += 1;
                    sa_track[k] += 1;
                }
            }
        }
        n += b;
    }
    if n == 0 {
        return EvalResult::default();
    }
    let per_bar = (n * 16 * nt) as f64;
    let per_track = (n * steps) as f64;
    EvalResult {
        windows: n,
        teacher_forced_accuracy: tf_track.iter().sum::<usize>() as f64 / (per_track * nt as f64),
        sampled_accuracy: sa_track.iter().sum::<usize>() as f64 / (per_track * nt as f64),
        tf_per_bar: tf_bar.iter().map(|&c| c as f64 / per_bar).collect(),
        sampled_per_bar: sa_bar.iter().map(|&c| c as f64 / per_bar).collect(),
        tf_per_track: tf_track.iter().map(|&c| c as f64 / per_track).collect(),
        sampled_per_track: sa_track.iter().map(|&c| c as f64 / per_track).collect(),
        r_loss: r_sum / n as f64,
        kl_bits: kl_sum / n as f64 / std::f64::consts::LN_2,
    }
}
