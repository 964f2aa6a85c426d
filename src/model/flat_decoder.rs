//! The flat decoder (Magenta's `CategoricalLstmDecoder` in `music_vae/lstm_models.py`): one core
//! decoder over all tracks of a window at once, conditioned on z for the whole sequence; its
//! logits are the tracks' logits side by side.

use super::batch::TrackSpec;
use super::decoder::{
    argmax_tokens, input_tables, shift_right, split_tracks, CoreDecoder, DecodeMode, DecodeOut,
};
use burn::tensor::{backend::Backend, Tensor};

/// A flat model's decoder: its core and the shape of what it decodes.
#[derive(Debug, Clone, Copy)]
pub struct FlatDecoder<'a, B: Backend> {
    /// The one core, over all tracks: input Σ track input widths + Z, output Σ track depths.
    pub core: &'a CoreDecoder<B>,
    pub tracks: &'a [TrackSpec],
    /// Steps of a window.
    pub steps: usize,
    /// Input dropout while training: one mask `[B, T, d_in]` per decoder layer.
    pub masks: Option<&'a [Tensor<B, 3>]>,
}

impl<B: Backend> FlatDecoder<'_, B> {
    /// Decode z `[B, Z]` into `steps` steps of every track.
    pub fn decode(&self, z: Tensor<B, 2>, mode: DecodeMode<B>) -> DecodeOut<B> {
        let depths: Vec<usize> = self.tracks.iter().map(|t| t.depth).collect();
        match mode {
            DecodeMode::TeacherForced { inputs } => {
                let logits = self
                    .core
                    .teacher_forced_dropped(shift_right(inputs), z, self.masks); // [B, T, Σdepth]
                let logits = split_tracks(logits, &depths);
                let tokens = argmax_tokens(&logits);
                DecodeOut { logits, tokens }
            }
            DecodeMode::Stepwise { inputs, noise } => {
                let [b, _] = z.dims();
                let device = z.device();
                let w: usize = self.tracks.iter().map(|t| t.input.width()).sum();
                let tables = input_tables::<B>(self.tracks, &device);
                let first = Tensor::zeros([b, w], &device); // [B, W]
                let truth = inputs.map(shift_right); // [B, T, W]
                let (logits, tokens) = self.core.stepwise(
                    z,
                    first,
                    truth,
                    self.steps,
                    self.tracks,
                    &noise,
                    &tables,
                    self.masks,
                );
                DecodeOut {
                    logits: split_tracks(logits, &depths),
                    tokens,
                }
            }
        }
    }
}
