//! Input dropout while training: Magenta's `dropout_keep_prob`, a TF
//! `DropoutWrapper(input_keep_prob)` around every LSTM layer of the encoder and the decoder
//! (`lstm_utils.rnn_cell`). Each layer's input gets a fresh mask per window, step and feature;
//! kept values are scaled by 1 / keep, so the expected input is unchanged and evaluation and
//! generation run without masks. The masks are drawn on the host from the run's RNG, window after
//! window, so a resumed run draws the same numbers and a batch cut into parts (data-parallel steps)
//! gets the same masks as the whole batch.

use super::vae::MusicVae;
use crate::rng::Rng;
use burn::tensor::{backend::Backend, Tensor, TensorData};

/// The masks of one training step (values 0 or 1 / keep).
#[derive(Debug, Clone)]
pub struct InputDropout<B: Backend> {
    /// Per encoder layer, the masks of its forward and backward cells' inputs, each `[N, T, d_in]`.
    pub encoder: Vec<[Tensor<B, 3>; 2]>,
    /// Per layer of a flat decoder, the mask of its input `[N, T, d_in]` (layer 0: the previous
    /// token ‖ z). Empty for a hierarchical decoder (its configs keep every input).
    pub decoder: Vec<Tensor<B, 3>>,
}

impl<B: Backend> InputDropout<B> {
    /// Masks for a batch of `n` windows of `model`'s shape, drawn from `rng`; None (and nothing
    /// drawn) when `keep` ≥ 1.
    pub fn draw(rng: &mut Rng, keep: f64, model: &MusicVae<B>, n: usize) -> Option<Self> {
        if keep >= 1.0 {
            return None;
        }
        let t = model.steps;
        let device = model.mu.weight.val().device();
        let mut mask = |d: usize| -> Tensor<B, 3> {
            let scale = (1.0 / keep) as f32;
            let v: Vec<f32> = (0..n * t * d)
                .map(|_| if rng.uniform() < keep { scale } else { 0.0 })
                .collect();
            Tensor::from_data(TensorData::new(v, [n, t, d]), &device) // [N, T, d]
        };
        let encoder = model
            .encoder
            .fwd
            .iter()
            .zip(&model.encoder.bwd)
            .map(|(f, b)| [mask(f.d_in()), mask(b.d_in())])
            .collect();
        let decoder = match (&model.conductor, model.cores.first()) {
            (None, Some(core)) => core.lstm.layers.iter().map(|l| mask(l.d_in())).collect(),
            _ => Vec::new(),
        };
        Some(InputDropout { encoder, decoder })
    }

    /// The masks of batch rows `start..start + len` (one part of a data-parallel step).
    pub fn rows(&self, start: usize, len: usize) -> Self {
        let cut = |m: &Tensor<B, 3>| m.clone().narrow(0, start, len); // [len, T, d]
        InputDropout {
            encoder: self.encoder.iter().map(|[f, b]| [cut(f), cut(b)]).collect(),
            decoder: self.decoder.iter().map(cut).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    /// The drum preset's shape at toy sizes: encoder 16, decoder 8 × 2, z 4.
    fn small_drums() -> crate::model::ModelConfig {
        let mut mc = Config::preset("cat-drums_2bar_small")
            .expect("preset")
            .model;
        mc.enc_rnn_size = vec![16];
        mc.dec_rnn_size = vec![8, 8];
        mc.z_size = 4;
        mc
    }

    #[test]
    fn masks_have_the_layers_shapes_and_keep_the_expected_input() {
        let mc = small_drums();
        let model = MusicVae::<B>::new(&mc, 1, &Default::default());
        assert!(InputDropout::draw(&mut Rng::new(1), 1.0, &model, 3).is_none());
        let d = InputDropout::draw(&mut Rng::new(1), 0.3, &model, 40).expect("masks");
        assert_eq!(d.encoder.len(), 1);
        assert_eq!(
            d.encoder[0][0].dims(),
            [40, 32, model.encoder.fwd[0].d_in()]
        );
        // Layer 0 reads the 512-way previous token and z; layer 1 the 8 units of layer 0.
        let widths: Vec<usize> = d.decoder.iter().map(|m| m.dims()[2]).collect();
        assert_eq!(widths, vec![512 + 4, 8]);
        let v = d.decoder[0]
            .clone()
            .into_data()
            .to_vec::<f32>()
            .expect("f32");
        let scale = 1.0 / 0.3f32;
        assert!(v.iter().all(|&x| x == 0.0 || (x - scale).abs() < 1e-6));
        let kept = v.iter().filter(|&&x| x > 0.0).count() as f64 / v.len() as f64;
        assert!((kept - 0.3).abs() < 0.01, "kept {kept}");
        // The forward and backward cells draw their own masks.
        assert_ne!(
            d.encoder[0][0].clone().into_data().to_vec::<f32>().ok(),
            d.encoder[0][1].clone().into_data().to_vec::<f32>().ok()
        );
        let part = d.rows(10, 5);
        let whole = d.decoder[1].clone().narrow(0, 10, 5).into_data();
        assert_eq!(part.decoder[1].clone().into_data(), whole);
    }

    /// Masks of ones compute what the unmasked model computes (the masked path projects the
    /// previous token ‖ z at every step instead of z once); drawn masks change the output.
    #[test]
    fn masked_forward_is_the_model_when_every_input_is_kept() {
        use crate::bench::train_speed::random_windows;
        use crate::model::batch::make_batch;
        use crate::model::vae::DecodeMode;
        let mc = small_drums();
        let device = Default::default();
        let model = MusicVae::<B>::new(&mc, 2, &device);
        let windows = random_windows(mc.data.kind, mc.data.steps(), 6, 3);
        let refs: Vec<_> = windows.iter().collect();
        let batch = make_batch::<B>(mc.data.kind, &refs, &device);
        let drawn = InputDropout::draw(&mut Rng::new(4), 0.5, &model, 6).expect("masks");
        let ones = InputDropout {
            encoder: drawn
                .encoder
                .iter()
                .map(|[f, b]| [f.ones_like(), b.ones_like()])
                .collect(),
            decoder: drawn.decoder.iter().map(|m| m.ones_like()).collect(),
        };
        let run = |drop: Option<&InputDropout<B>>| {
            let (mu, _) = model.encode_dropped(batch.inputs.clone(), drop); // [6, 4]
            let mode = DecodeMode::TeacherForced {
                inputs: batch.inputs.clone(),
            };
            let logits = model.decode_dropped(mu.clone(), mode, drop).logits[0].clone(); // [6, 32, 512]
            let mut v = mu.into_data().to_vec::<f32>().expect("f32");
            v.extend(logits.into_data().to_vec::<f32>().expect("f32"));
            v
        };
        let plain = run(None);
        let kept = run(Some(&ones));
        let dropped = run(Some(&drawn));
        let max_diff = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()))
        };
        assert!(
            max_diff(&plain, &kept) < 1e-5,
            "{}",
            max_diff(&plain, &kept)
        );
        assert!(max_diff(&plain, &dropped) > 1e-3);
    }
}
