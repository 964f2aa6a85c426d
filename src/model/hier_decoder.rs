//! The hierarchical decoder (Magenta's `HierarchicalLstmDecoder` in `music_vae/lstm_models.py`,
//! with `level_lengths` [bars, steps per bar]): a conductor LSTM turns z into one embedding per bar,
//! and one core decoder per track decodes each bar from that bar's embedding alone. Teacher-forced,
//! all bars of a track run as one batch; stepwise, bar after bar, each bar's first input being the
//! last token fed back in the bar before (or the truth, where teacher forcing applies).

use super::batch::TrackSpec;
use super::decoder::{
    argmax_tokens, encode_tokens, input_tables, shift_right, split_tracks, CoreDecoder, DecodeMode,
    DecodeOut,
};
use super::init::Dense;
use super::lstm::StackedLstm;
use super::noise::StepNoise;
use burn::module::Module;
use burn::tensor::activation::tanh;
use burn::tensor::{backend::Backend, Int, Tensor};

/// The conductor of the hierarchical decoder: an LSTM stack fed zeros, started from tanh(dense(z)),
/// whose top output at bar u is that bar's embedding.
#[derive(Module, Debug)]
pub struct Conductor<B: Backend> {
    pub lstm: StackedLstm<B>,
    pub init: Dense<B>,
}

impl<B: Backend> Conductor<B> {
    /// Bar embeddings `[B, U, H]` from z `[B, Z]`.
    pub fn forward(&self, z: Tensor<B, 2>, bars: usize) -> Tensor<B, 3> {
        let [b, _] = z.dims();
        let states = self.lstm.split_state(tanh(self.init.forward2(z)));
        let l0 = &self.lstm.layers[0];
        // Zero input: the first layer's projection is its bias alone.
        let xp = l0
            .bias
            .val()
            .unsqueeze_dim::<2>(0)
            .unsqueeze_dim::<3>(0)
            .repeat_dim(0, b)
            .repeat_dim(1, bars); // [B, U, 4H]
        let (h, _) = self.lstm.seq_projected(xp, states);
        h
    }
}

/// A hierarchical model's decoder: its conductor, its cores and the shape of what it decodes.
#[derive(Debug, Clone, Copy)]
pub struct HierDecoder<'a, B: Backend> {
    pub conductor: &'a Conductor<B>,
    /// One core per track, conditioned on the bar embedding.
    pub cores: &'a [CoreDecoder<B>],
    pub tracks: &'a [TrackSpec],
    /// `[bars, steps per bar]`.
    pub level_lengths: [usize; 2],
}

impl<B: Backend> HierDecoder<'_, B> {
    /// Decode z `[B, Z]` into bars × steps per bar steps of every track.
    pub fn decode(&self, z: Tensor<B, 2>, mode: DecodeMode<B>) -> DecodeOut<B> {
        let emb = self.conductor.forward(z, self.level_lengths[0]); // [B, U, H]
        match mode {
            DecodeMode::TeacherForced { inputs } => self.teacher_forced(emb, inputs),
            DecodeMode::Stepwise { inputs, noise } => self.stepwise(emb, inputs, &noise),
        }
    }

    fn widths(&self) -> Vec<usize> {
        self.tracks.iter().map(|t| t.input.width()).collect()
    }

    /// All bars in one batch: `[B·U, S, w_k]` with the globally shifted inputs `[B, T, W]`.
    fn teacher_forced(&self, emb: Tensor<B, 3>, inputs: Tensor<B, 3>) -> DecodeOut<B> {
        let [bars, per_bar] = self.level_lengths;
        let [b, _, h] = emb.dims();
        let prev = split_tracks(shift_right(inputs), &self.widths()); // per track [B, T, w_k]
        let cond = emb.reshape([b * bars, h]); // [B·U, H]
        let logits: Vec<Tensor<B, 3>> = self
            .cores
            .iter()
            .zip(self.tracks)
            .zip(prev)
            .map(|((core, t), pk)| {
                let pk = pk.reshape([b * bars, per_bar, t.input.width()]); // [B·U, S, w_k]
                let lk = core.teacher_forced(pk, cond.clone()); // [B·U, S, d_k]
                lk.reshape([b, bars * per_bar, t.depth]) // [B, T, d_k]
            })
            .collect();
        let tokens = argmax_tokens(&logits);
        DecodeOut { logits, tokens }
    }

    /// Bar after bar, track after track, each bar from its embedding and its first input.
    fn stepwise(
        &self,
        emb: Tensor<B, 3>,
        inputs: Option<Tensor<B, 3>>,
        noise: &StepNoise<B>,
    ) -> DecodeOut<B> {
        let [bars, per_bar] = self.level_lengths;
        let [b, _, _] = emb.dims();
        let device = emb.device();
        let widths = self.widths();
        let tables = input_tables::<B>(self.tracks, &device);
        let truth: Option<Vec<Tensor<B, 3>>> =
            inputs.map(|x| split_tracks(shift_right(x), &widths)); // per track [B, T, w_k]
        let mut logits_k: Vec<Vec<Tensor<B, 3>>> = vec![Vec::new(); self.tracks.len()];
        let mut tokens_k: Vec<Vec<Tensor<B, 2, Int>>> = vec![Vec::new(); self.tracks.len()];
        // Encoding of the last token fed back in the bar before, per track [B, w_k].
        let mut last: Vec<Tensor<B, 2>> = widths
            .iter()
            .map(|&wk| Tensor::zeros([b, wk], &device))
            .collect();
        for u in 0..bars {
            let start = u * per_bar;
            let cu = emb.clone().narrow(1, u, 1).squeeze_dim::<2>(1); // [B, H]
            for (k, core) in self.cores.iter().enumerate() {
                let tr = truth
                    .as_ref()
                    .map(|t| t[k].clone().narrow(1, start, per_bar)); // [B, S, w_k]
                let bar_noise = noise.narrow(k, start, per_bar);
                let first = first_input(u, &last[k], tr.as_ref(), bar_noise.feed_sample.as_ref());
                let (lk, tk) = core.stepwise(
                    cu.clone(),
                    first,
                    tr,
                    per_bar,
                    &self.tracks[k..k + 1],
                    &bar_noise,
                    &tables[k..k + 1],
                    None,
                );
                let lt = tk[0].clone().narrow(1, per_bar - 1, 1).squeeze_dim::<1>(1); // [B]
                last[k] = encode_tokens(lt, self.tracks[k].depth, tables[k].as_ref()); // [B, w_k]
                logits_k[k].push(lk);
                tokens_k[k].push(tk[0].clone());
            }
        }
        DecodeOut {
            logits: logits_k.into_iter().map(|v| Tensor::cat(v, 1)).collect(),
            tokens: tokens_k.into_iter().map(|v| Tensor::cat(v, 1)).collect(),
        }
    }
}

/// First input `[B, w]` of bar `u` of one track: the truth (teacher forcing) where it is given and
/// not sampled, otherwise `last`, the previous bar's last fed-back token.
fn first_input<B: Backend>(
    u: usize,
    last: &Tensor<B, 2>,
    truth: Option<&Tensor<B, 3>>,
    feed_sample: Option<&Tensor<B, 2>>,
) -> Tensor<B, 2> {
    match (truth, feed_sample) {
        (Some(t), None) => t.clone().narrow(1, 0, 1).squeeze_dim::<2>(1),
        (Some(t), Some(m)) if u > 0 => {
            let m0 = m.clone().narrow(1, 0, 1); // [B, 1]
            last.clone() * m0.clone()
                + t.clone().narrow(1, 0, 1).squeeze_dim::<2>(1) * m0.neg().add_scalar(1.0)
        }
        _ => last.clone(),
    }
}
