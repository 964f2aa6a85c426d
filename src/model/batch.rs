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

/// One output track of the decoder: its token classes and how a chosen token is fed back.
#[derive(Debug, Clone)]
pub struct TrackSpec {
    pub depth: usize,
    pub input: TrackInput,
}

impl TrackSpec {
    /// The spec of a representation's track.
    pub fn of(track: &Track) -> Self {
        TrackSpec {
            depth: track.depth(),
            input: TrackInput::of(track),
        }
    }
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
}
