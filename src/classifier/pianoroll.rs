//! Melody window (90-class tokens) → piano roll `[channels, pitch, steps]`: channel 0 is 1 where a
//! note sounds (from its onset until the next onset or note-off), channel 1 (optional) is 1 at
//! onsets. Binary, like the VAE's decoded output (all velocity 80). Rows are pitches from
//! `pitch_min` (row 0) to `pitch_max`.

use super::config::ClassifierConfig;
use crate::data::converter::Window;
use crate::music::melody::{token_pitch, NOTE_OFF};
use burn::tensor::{backend::Backend, Tensor, TensorData};

/// What a roll looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollSpec {
    pub pitch_min: u8,
    pub pitch_max: u8,
    pub steps: usize,
    pub onset_channel: bool,
}

impl RollSpec {
    pub fn of(cfg: &ClassifierConfig) -> Self {
        RollSpec {
            pitch_min: cfg.pitch_min,
            pitch_max: cfg.pitch_max,
            steps: cfg.steps(),
            onset_channel: cfg.onset_channel,
        }
    }
    pub fn channels(&self) -> usize {
        if self.onset_channel {
            2
        } else {
            1
        }
    }
    pub fn pitches(&self) -> usize {
        (self.pitch_max - self.pitch_min) as usize + 1
    }
    /// Floats in one roll.
    pub fn len(&self) -> usize {
        self.channels() * self.pitches() * self.steps
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Lowest and highest onset pitch of a melody track.
pub fn pitch_span(tokens: &[u16]) -> Option<(u8, u8)> {
    let mut it = tokens.iter().filter_map(|&t| token_pitch(t));
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), p| (lo.min(p), hi.max(p))))
}

/// The transpositions in `[-k, k]` that keep every note of `tokens` inside the roll (a window
/// already beyond the roll allows only 0).
pub fn allowed_shifts(tokens: &[u16], spec: &RollSpec, k: u8) -> (i32, i32) {
    let k = k as i32;
    match pitch_span(tokens) {
        None => (-k, k),
        Some((lo, hi)) => {
            let down = (lo as i32 - spec.pitch_min as i32).clamp(0, k);
            let up = (spec.pitch_max as i32 - hi as i32).clamp(0, k);
            (-down, up)
        }
    }
}

/// Render melody `tokens` transposed by `shift` semitones into `out` (`spec.len()` floats, all
/// zero on entry). Steps beyond `spec.steps` are ignored; notes outside the pitch rows are dropped.
pub fn render(tokens: &[u16], spec: &RollSpec, shift: i32, out: &mut [f32]) {
    let (p, t) = (spec.pitches(), spec.steps);
    let mut sounding: Option<usize> = None;
    for (step, &tok) in tokens.iter().take(t).enumerate() {
        if tok == NOTE_OFF {
            sounding = None;
        } else if let Some(pitch) = token_pitch(tok) {
            let q = pitch as i32 + shift;
            sounding = (q >= spec.pitch_min as i32 && q <= spec.pitch_max as i32)
                .then(|| (q - spec.pitch_min as i32) as usize);
            if let (Some(row), true) = (sounding, spec.onset_channel) {
                out[p * t + row * t + step] = 1.0;
            }
        }
        if let Some(row) = sounding {
            out[row * t + step] = 1.0;
        }
    }
}

/// One window's roll as a flat `[C, P, T]` vector (melody = the window's first track).
pub fn roll(window: &Window, spec: &RollSpec, shift: i32) -> Vec<f32> {
    let mut out = vec![0.0; spec.len()];
    if let Some(t) = window.tracks.first() {
        render(t, spec, shift, &mut out);
    }
    out
}

/// A batch of rolls `[N, C, P, T]` (`shifts[i]` semitones for window i; empty = no transposition).
pub fn batch_tensor<B: Backend>(
    windows: &[&Window],
    shifts: &[i32],
    spec: &RollSpec,
    device: &B::Device,
) -> Tensor<B, 4> {
    let n = windows.len();
    let mut data = vec![0.0f32; n * spec.len()];
    for (i, w) in windows.iter().enumerate() {
        if let Some(t) = w.tracks.first() {
            let shift = shifts.get(i).copied().unwrap_or(0);
            render(
                t,
                spec,
                shift,
                &mut data[i * spec.len()..(i + 1) * spec.len()],
            );
        }
    }
    Tensor::from_data(
        TensorData::new(data, [n, spec.channels(), spec.pitches(), spec.steps]),
        device,
    ) // [N, C, P, T]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::melody::{pitch_token, NO_EVENT};

    fn spec(onset: bool) -> RollSpec {
        RollSpec {
            pitch_min: 21,
            pitch_max: 108,
            steps: 8,
            onset_channel: onset,
        }
    }

    fn at(r: &[f32], s: &RollSpec, c: usize, pitch: u8, step: usize) -> f32 {
        r[c * s.pitches() * s.steps + (pitch - s.pitch_min) as usize * s.steps + step]
    }

    #[test]
    fn holds_rests_and_repeated_notes() {
        // C4 held 2 steps, off, rest, C4, C4 (repeated onset), E4 to the end.
        let c4 = pitch_token(60);
        let e4 = pitch_token(64);
        let toks = vec![c4, NO_EVENT, NOTE_OFF, NO_EVENT, c4, c4, e4, NO_EVENT];
        let s = spec(true);
        let w = Window { tracks: vec![toks] };
        let r = roll(&w, &s, 0);
        let sound: Vec<f32> = (0..8).map(|t| at(&r, &s, 0, 60, t)).collect();
        assert_eq!(sound, vec![1., 1., 0., 0., 1., 1., 0., 0.]);
        let onset: Vec<f32> = (0..8).map(|t| at(&r, &s, 1, 60, t)).collect();
        assert_eq!(onset, vec![1., 0., 0., 0., 1., 1., 0., 0.]);
        assert_eq!(at(&r, &s, 0, 64, 7), 1.0);
        assert_eq!(r.iter().sum::<f32>(), 6.0 + 4.0);
        // Transposed up 2: everything moves two rows.
        let r2 = roll(&w, &s, 2);
        assert_eq!(at(&r2, &s, 0, 62, 0), 1.0);
        assert_eq!(at(&r2, &s, 0, 66, 7), 1.0);
        assert_eq!(r2.iter().sum::<f32>(), 10.0);
        // Without the onset channel the roll has one channel.
        assert_eq!(roll(&w, &spec(false), 0).len(), 88 * 8);
    }

    #[test]
    fn shifts_stay_inside_the_roll() {
        let s = spec(false);
        let toks = vec![pitch_token(23), pitch_token(106)];
        assert_eq!(allowed_shifts(&toks, &s, 5), (-2, 2));
        assert_eq!(allowed_shifts(&[NO_EVENT; 4], &s, 5), (-5, 5));
        let narrow = RollSpec {
            pitch_min: 60,
            pitch_max: 72,
            ..s
        };
        // A note outside the rows allows no shift in that direction and is dropped when rendered.
        assert_eq!(allowed_shifts(&[pitch_token(50)], &narrow, 3), (0, 3));
        assert!(roll(
            &Window {
                tracks: vec![vec![pitch_token(50)]]
            },
            &narrow,
            0
        )
        .iter()
        .all(|&v| v == 0.0));
    }

    #[test]
    fn batch_shape() {
        let s = spec(true);
        let w = Window {
            tracks: vec![vec![pitch_token(60); 8]],
        };
        let t = batch_tensor::<burn::backend::NdArray<f32>>(
            &[&w, &w, &w],
            &[0, 1],
            &s,
            &Default::default(),
        );
        assert_eq!(t.dims(), [3, 2, 88, 8]);
    }
}
