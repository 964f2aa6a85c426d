//! The host-made randomness of one stepwise decode: which steps feed back the model's own sample
//! (scheduled sampling) and the Gumbel noise that turns argmax into a categorical draw. It is drawn
//! from the host RNG in one place, track after track, so training, evaluation and generation draw
//! it in the same order and a run resumed from a checkpoint (or a seeded command run again) gets
//! the same numbers.

use super::batch::TrackSpec;
use crate::rng::Rng;
use burn::tensor::{backend::Backend, Tensor, TensorData};

/// Host-made randomness for one stepwise decode (so runs are reproducible and resumable).
#[derive(Debug, Clone)]
pub struct StepNoise<B: Backend> {
    /// `[N, T]`: 1 where the model's own sample is fed instead of the truth.
    pub feed_sample: Option<Tensor<B, 2>>,
    /// Per track `[N, T, depth]` Gumbel noise; None = argmax.
    pub gumbel: Option<Vec<Tensor<B, 3>>>,
    /// Logits are divided by this before the Gumbel-max draw.
    pub temperature: f64,
}

impl<B: Backend> StepNoise<B> {
    /// Noise for decoding `n` sequences of `steps` steps of `tracks` at `temperature`: Gumbel(0, 1)
    /// noise `[n, steps, depth]` per track, drawn from `rng` track after track (none at
    /// temperature 0, which decodes by argmax and draws nothing), and `feed_sample` as given.
    pub fn draw(
        rng: &mut Rng,
        tracks: &[TrackSpec],
        n: usize,
        steps: usize,
        temperature: f64,
        feed_sample: Option<Tensor<B, 2>>,
        device: &B::Device,
    ) -> Self {
        let gumbel = (temperature > 0.0).then(|| {
            tracks
                .iter()
                .map(|t| {
                    Tensor::from_data(
                        TensorData::new(rng.gumbels(n * steps * t.depth), [n, steps, t.depth]),
                        device,
                    ) // [n, steps, depth]
                })
                .collect()
        });
        StepNoise {
            feed_sample,
            gumbel,
            temperature,
        }
    }

    /// The noise of batch rows `start..start + len` (one part of a data-parallel step).
    pub fn rows(&self, start: usize, len: usize) -> Self {
        StepNoise {
            feed_sample: self.feed_sample.clone().map(|m| m.narrow(0, start, len)), // [len, T]
            gumbel: self.gumbel.clone().map(|g| {
                g.into_iter()
                    .map(|t| t.narrow(0, start, len)) // [len, T, depth]
                    .collect()
            }),
            temperature: self.temperature,
        }
    }

    /// The noise of steps `start..start + len` of track `k` alone (one bar of one track of the
    /// hierarchical decoder).
    pub fn narrow(&self, k: usize, start: usize, len: usize) -> Self {
        StepNoise {
            feed_sample: self.feed_sample.clone().map(|m| m.narrow(1, start, len)), // [N, len]
            gumbel: self
                .gumbel
                .clone()
                .map(|g| vec![g[k].clone().narrow(1, start, len)]), // [N, len, depth_k]
            temperature: self.temperature,
        }
    }
}
