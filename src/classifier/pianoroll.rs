//! A window → binary roll `[channels, rows, steps]`, the classifier's input.
//!
//! Melody (90-class tokens): rows are pitches from `pitch_min` (row 0) to `pitch_max`; channel 0
//! is 1 where a note sounds (from its onset until the next onset or note-off), channel 1
//! (optional) is 1 at onsets. Binary, like the VAE's decoded output (all velocity 80).
//!
//! Drums (512-way tokens, token = Σ 2^class of the classes hit in the step): rows are the 9 drum
//! classes of `music::drums` (row c = class c: kick, snare, closed hi-hat, …), one channel that is
//! 1 where the class is hit. Drum hits are one-step events with no length, so "sounding" and
//! "onset" are the same thing and a second channel would only repeat the first; the roll is
//! exactly the bits of the tokens (the VAE encoder's drum-roll input, laid out as rows).

use super::config::ClassifierConfig;
use crate::data::converter::{DataKind, Window};
use crate::music::drums::DRUM_CLASSES;
use crate::music::melody::{token_pitch, NOTE_OFF};
use burn::tensor::{backend::Backend, Tensor, TensorData};

/// What a roll looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollSpec {
    /// Melody (pitch rows) or drums (drum-class rows); the pitch fields and the onset channel are
    /// melody-only.
    pub kind: DataKind,
    pub pitch_min: u8,
    pub pitch_max: u8,
    pub steps: usize,
    pub onset_channel: bool,
}

impl RollSpec {
    pub fn of(cfg: &ClassifierConfig) -> Self {
        RollSpec {
            kind: cfg.kind,
            pitch_min: cfg.pitch_min,
            pitch_max: cfg.pitch_max,
            steps: cfg.steps(),
            onset_channel: cfg.onset_channel,
        }
    }
    /// A drum roll of `steps` steps: 9 rows, one channel.
    pub fn drums(steps: usize) -> Self {
        RollSpec {
            kind: DataKind::Drums,
            pitch_min: 0,
            pitch_max: 0,
            steps,
            onset_channel: false,
        }
    }
    pub fn channels(&self) -> usize {
        if self.onset_channel && self.kind != DataKind::Drums {
            2
        } else {
            1
        }
    }
    /// Rows: pitches (melody) or drum classes.
    pub fn pitches(&self) -> usize {
        match self.kind {
            DataKind::Drums => DRUM_CLASSES,
            _ => (self.pitch_max - self.pitch_min) as usize + 1,
        }
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
/// already beyond the roll allows only 0; a drum roll does not transpose: always (0, 0)).
pub fn allowed_shifts(tokens: &[u16], spec: &RollSpec, k: u8) -> (i32, i32) {
    if spec.kind == DataKind::Drums {
        return (0, 0);
    }
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

/// Render `tokens` into `out` (`spec.len()` floats, all zero on entry): a melody transposed by
/// `shift` semitones, or drums (`shift` ignored). Steps beyond `spec.steps` are ignored; notes
/// outside the pitch rows are dropped.
pub fn render(tokens: &[u16], spec: &RollSpec, shift: i32, out: &mut [f32]) {
    if spec.kind == DataKind::Drums {
        render_drums(tokens, spec.steps, out);
        return;
    }
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

/// Drum `tokens` (512-way) → `out[class · steps + step]` = 1 where bit `class` of the step's token
/// is set (`out` holds 9 · `steps` floats, zero on entry). Bits above the 9 classes are ignored.
pub fn render_drums(tokens: &[u16], steps: usize, out: &mut [f32]) {
    for (step, &tok) in tokens.iter().take(steps).enumerate() {
        for class in 0..DRUM_CLASSES {
            if tok & (1 << class) != 0 {
                out[class * steps + step] = 1.0;
            }
        }
    }
}

/// One window's roll as a flat `[C, P, T]` vector (melody or drums = the window's first track).
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
            kind: DataKind::Melody,
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
    fn drum_roll_from_tokens() {
        use crate::music::drums::DRUM_TOKENS;
        let s = RollSpec::drums(4);
        assert_eq!((s.channels(), s.pitches(), s.len()), (1, 9, 36));
        // kick + closed hi-hat, nothing, snare, every class at once.
        let toks = vec![0b1 | 0b100, 0, 0b10, (DRUM_TOKENS - 1) as u16];
        let w = Window {
            tracks: vec![toks.clone()],
        };
        let r = roll(&w, &s, 3); // a shift means nothing to drums
        let row = |c: usize| r[c * 4..(c + 1) * 4].to_vec();
        assert_eq!(row(0), vec![1., 0., 0., 1.]); // kick
        assert_eq!(row(1), vec![0., 0., 1., 1.]); // snare
        assert_eq!(row(2), vec![1., 0., 0., 1.]); // closed hi-hat
        for c in 3..9 {
            assert_eq!(row(c), vec![0., 0., 0., 1.], "class {c}");
        }
        assert_eq!(r.iter().sum::<f32>(), 3.0 + 9.0);
        // The roll is the tokens' bits: they come back from it.
        for (step, &tok) in toks.iter().enumerate() {
            let back: u16 = (0..9).map(|c| (r[c * 4 + step] as u16) << c).sum();
            assert_eq!(back, tok);
        }
        assert_eq!(allowed_shifts(&toks, &s, 5), (0, 0));
        let t =
            batch_tensor::<burn::backend::NdArray<f32>>(&[&w, &w], &[], &s, &Default::default());
        assert_eq!(t.dims(), [2, 1, 9, 4]);
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
