//! Windows → model inputs. Each track's tokens become an input encoding (one-hot, or Magenta's drum
//! roll: 9 class bits + a "no hit" bit for the drums configs) concatenated per step, and integer targets.
//! [`TrackSpec`] is a track as the decoder sees it: its token classes and its input encoding.

use crate::data::converter::{DataKind, Window};
use crate::data::representation::{InputEncoding, Track};
use crate::music::drums::DRUM_CLASSES;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

/// How each track is fed to the encoder and, shifted by one step, to the decoder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrackInput {
    OneHot(usize),
    /// 9 drum-class bits + 1 "no hit" bit (`DrumsConverter(roll_input=True)`).
    DrumRoll,
}

impl TrackInput {
    /// The encoding of a representation's track.
    pub fn of(track: &Track) -> Self {
        match track.input {
            InputEncoding::OneHot => TrackInput::OneHot(track.depth()),
            InputEncoding::DrumRoll => TrackInput::DrumRoll,
        }
    }
    pub fn width(&self) -> usize {
        match self {
            TrackInput::OneHot(d) => *d,
            TrackInput::DrumRoll => DRUM_CLASSES + 1,
        }
    }
    /// Write the encoding of `token` into `out` (length `width()`).
    pub fn write(&self, token: u16, out: &mut [f32]) {
        match self {
            TrackInput::OneHot(_) => out[token as usize] = 1.0,
            TrackInput::DrumRoll => {
                for (c, o) in out.iter_mut().enumerate().take(DRUM_CLASSES) {
                    if token & (1 << c) != 0 {
                        *o = 1.0;
                    }
                }
                if token == 0 {
                    out[DRUM_CLASSES] = 1.0;
                }
            }
        }
    }
    /// `[depth, width]` table mapping a one-hot token to its encoding (identity for one-hot).
    pub fn table(&self, depth: usize) -> Vec<f32> {
        let w = self.width();
        let mut t = vec![0.0; depth * w];
        for tok in 0..depth {
            self.write(tok as u16, &mut t[tok * w..(tok + 1) * w]);
        }
        t
    }
}

/// One output track of the decoder: its token classes, how a chosen token is fed back to the
/// decoder, and how the encoder reads the track.
#[derive(Debug, Clone)]
pub struct TrackSpec {
    pub depth: usize,
    /// The decoder's input encoding of a token.
    pub input: TrackInput,
    /// The encoder's input encoding of a token (the part of the encoder inputs this track fills).
    pub enc_input: TrackInput,
}

impl TrackSpec {
    /// The decoder's view of a representation's track. Magenta's categorical decoders are fed the
    /// previous *output* token as a one-hot over the vocabulary (`x_input` is `output_sequence`
    /// shifted right in `base_model.py`), whatever the encoder reads: for `DrumsConverter(roll_input
    /// =True)` only the encoder sees the 10-wide roll, the decoder a 512-way one-hot.
    pub fn of(track: &Track) -> Self {
        TrackSpec {
            depth: track.depth(),
            input: TrackInput::OneHot(track.depth()),
            enc_input: TrackInput::of(track),
        }
    }
}

/// Encoder inputs `[B, T, W_enc]` → the decoder's inputs `[B, T, W_dec]` (per track a one-hot
/// over its tokens, see [`TrackSpec::of`]). A one-hot track passes through; a drum roll becomes the
/// one-hot of Σ 2^class over its class bits.
pub fn decoder_inputs<B: Backend>(tracks: &[TrackSpec], inputs: Tensor<B, 3>) -> Tensor<B, 3> {
    if tracks.iter().all(|t| t.input == t.enc_input) {
        return inputs;
    }
    let [b, t, _] = inputs.dims();
    let device = inputs.device();
    let mut off = 0;
    let parts: Vec<Tensor<B, 3>> = tracks
        .iter()
        .map(|spec| {
            let part = inputs.clone().narrow(2, off, spec.enc_input.width()); // [B, T, w_k]
            off += spec.enc_input.width();
            match spec.enc_input {
                TrackInput::OneHot(_) => part,
                TrackInput::DrumRoll => {
                    let powers: Vec<f32> = (0..DRUM_CLASSES).map(|c| (1u32 << c) as f32).collect();
                    let powers = Tensor::<B, 2>::from_data(
                        TensorData::new(powers, [DRUM_CLASSES, 1]),
                        &device,
                    ); // [9, 1]
                    let bits = part
                        .narrow(2, 0, DRUM_CLASSES)
                        .reshape([b * t, DRUM_CLASSES]); // [B·T, 9]
                    let token = bits.matmul(powers).reshape([b * t]).round().int(); // [B·T]
                    let depth = spec.depth;
                    token.one_hot::<2>(depth).float().reshape([b, t, depth]) // [B, T, 512]
                }
            }
        })
        .collect();
    Tensor::cat(parts, 2) // [B, T, W_dec]
}

/// Input encodings of the tracks of a data kind.
pub fn track_inputs(kind: DataKind) -> Vec<TrackInput> {
    kind.representation()
        .tracks
        .iter()
        .map(TrackInput::of)
        .collect()
}

/// Width of the concatenated per-step input.
pub fn input_width(kind: DataKind) -> usize {
    track_inputs(kind).iter().map(|t| t.width()).sum()
}

/// A batch on a device.
#[derive(Debug, Clone)]
pub struct Batch<B: Backend> {
    /// `[batch, steps, input_width]`
    pub inputs: Tensor<B, 3>,
    /// One `[batch, steps]` target tensor per track.
    pub targets: Vec<Tensor<B, 2, Int>>,
}

/// Host-side encoding of windows: `(inputs, targets per track)`.
pub fn encode_host(kind: DataKind, windows: &[&Window]) -> (Vec<f32>, [usize; 3], Vec<Vec<i64>>) {
    let tis = track_inputs(kind);
    let width: usize = tis.iter().map(|t| t.width()).sum();
    let b = windows.len();
    let t = windows
        .first()
        .and_then(|w| w.tracks.first())
        .map(|x| x.len())
        .unwrap_or(0);
    let mut inputs = vec![0.0f32; b * t * width];
    let mut targets = vec![Vec::with_capacity(b * t); tis.len()];
    for (bi, w) in windows.iter().enumerate() {
        for step in 0..t {
            let base = (bi * t + step) * width;
            let mut off = 0;
            for (k, ti) in tis.iter().enumerate() {
                let tok = w.tracks[k][step];
                ti.write(tok, &mut inputs[base + off..base + off + ti.width()]);
                off += ti.width();
                targets[k].push(tok as i64);
            }
        }
    }
    (inputs, [b, t, width], targets)
}

/// Encode windows into a batch on `device`.
pub fn make_batch<B: Backend>(kind: DataKind, windows: &[&Window], device: &B::Device) -> Batch<B> {
    let (inputs, dims, targets) = encode_host(kind, windows);
    let [b, t, _] = dims;
    Batch {
        inputs: Tensor::from_data(TensorData::new(inputs, dims), device),
        targets: targets
            .into_iter()
            .map(|v| Tensor::from_data(TensorData::new(v, [b, t]), device))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drum_roll_encoding() {
        let mut v = vec![0.0; 10];
        TrackInput::DrumRoll.write(0, &mut v);
        assert_eq!(v[9], 1.0);
        assert_eq!(v.iter().sum::<f32>(), 1.0);
        let mut v = vec![0.0; 10];
        TrackInput::DrumRoll.write(0b101, &mut v);
        assert_eq!(&v[..3], &[1.0, 0.0, 1.0]);
        assert_eq!(v[9], 0.0);
        assert_eq!(input_width(DataKind::Trio), 692);
    }

    /// The decoder of a drum model is fed the 512-way one-hot of each step's token (Magenta's
    /// `x_input`), derived from the encoder's 10-wide roll; melody inputs pass through unchanged.
    #[test]
    fn decoder_inputs_are_one_hot_tokens() {
        use burn::backend::NdArray;
        type B = NdArray<f32>;
        let dev = Default::default();
        let tokens: Vec<u16> = vec![0, 1, 0b101, 511, 256, 0, 3, 64];
        let w = Window {
            tracks: vec![tokens.clone()],
        };
        let specs = |kind: DataKind| -> Vec<TrackSpec> {
            kind.representation()
                .tracks
                .iter()
                .map(TrackSpec::of)
                .collect()
        };
        let batch = make_batch::<B>(DataKind::Drums, &[&w], &dev);
        assert_eq!(batch.inputs.dims(), [1, 8, 10]);
        let dec = decoder_inputs(&specs(DataKind::Drums), batch.inputs.clone());
        assert_eq!(dec.dims(), [1, 8, 512]);
        let got: Vec<i64> = dec
            .argmax(2)
            .into_data()
            .convert::<i64>()
            .to_vec()
            .expect("ints");
        let want: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
        assert_eq!(got, want);
        let specs: Vec<TrackSpec> = DataKind::Melody
            .representation()
            .tracks
            .iter()
            .map(TrackSpec::of)
            .collect();
        let x = Tensor::<B, 3>::ones([2, 3, 90], &dev);
        assert_eq!(decoder_inputs(&specs, x.clone()).into_data(), x.into_data());
    }
}
