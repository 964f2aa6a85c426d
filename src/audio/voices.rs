//! The built-in pitched voices: additive tones whose upper harmonics fade faster than the
//! fundamental (brighter when played harder), shaped by an ADSR envelope.
//!
//! * the melodic voice is a soft, slightly bell-like electric-piano tone;
//! * the bass voice is darker and plucked, with a short release so fast lines stay clear.
//!
//! Harmonics are exact integer multiples (no detune, no vibrato), so a note's fundamental is its
//! equal-tempered frequency, and harmonics at or above 0.45 × the sample rate are left out (no
//! aliasing).

use super::dsp::{midi_to_hz, velocity_gain};
use super::envelope::Adsr;
use std::f64::consts::PI;

/// Notes shorter than this are lengthened to it so that every note is heard.
pub const MIN_HELD_SECONDS: f64 = 0.03;

/// Timbre of an additive voice.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ToneSpec {
    /// Amplitude of harmonic k (index 0 = the fundamental) at the onset of a full-velocity note.
    pub harmonics: &'static [f64],
    pub envelope: Adsr,
    /// Upper harmonics decay to this fraction of their onset amplitude …
    pub bright_floor: f64,
    /// … at a rate of `bright_rate × (k − 1)` per second.
    pub bright_rate: f64,
    /// Peak gain of the voice at velocity 127.
    pub level: f64,
}

/// The melodic voice (every non-drum program outside 32–39).
pub const MELODIC: ToneSpec = ToneSpec {
    harmonics: &[1.0, 0.5, 0.28, 0.16, 0.1, 0.06, 0.04, 0.025, 0.015, 0.01],
    envelope: Adsr {
        attack: 0.012,
        decay: 0.35,
        sustain: 0.55,
        release: 0.18,
    },
    bright_floor: 0.35,
    bright_rate: 3.0,
    level: 0.38,
};

/// The bass voice (GM programs 32–39).
pub const BASS: ToneSpec = ToneSpec {
    harmonics: &[1.0, 0.7, 0.4, 0.25, 0.15, 0.08, 0.04],
    envelope: Adsr {
        attack: 0.006,
        decay: 0.3,
        sustain: 0.6,
        release: 0.08,
    },
    bright_floor: 0.3,
    bright_rate: 8.0,
    level: 0.5,
};

/// Render one note of `spec` (mono, starting at its onset, ending when its release is over).
pub fn render_tone(
    spec: &ToneSpec,
    pitch: u8,
    velocity: u8,
    held_for: f64,
    sample_rate: u32,
) -> Vec<f32> {
    let sr = sample_rate as f64;
    let held = held_for.max(MIN_HELD_SECONDS);
    let n = (spec.envelope.length(held) * sr).ceil() as usize;
    let f = midi_to_hz(pitch as f64);
    let nyquist_margin = 0.45 * sr;
    let k_max = spec
        .harmonics
        .len()
        .min((nyquist_margin / f).floor() as usize);
    if k_max == 0 || n == 0 {
        return vec![0.0; n];
    }
    let v = velocity_gain(velocity);
    // Softer notes are darker: the upper harmonics scale with the square root of the velocity gain.
    let tilt = 0.35 + 0.65 * v.sqrt();
    let mut bright: Vec<f64> = (0..k_max).map(|_| 1.0).collect();
    let per_sample: Vec<f64> = (0..k_max)
        .map(|k| (-spec.bright_rate * k as f64 / sr).exp())
        .collect();
    let w = 2.0 * PI * f / sr;
    let gain = spec.level * v;
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let t = i as f64 / sr;
        let env = spec.envelope.level(t, held);
        // sin(kθ) by the Chebyshev recurrence sin(kθ) = 2 cos θ sin((k−1)θ) − sin((k−2)θ).
        let theta = w * i as f64;
        let (s1, c1) = theta.sin_cos();
        let (mut prev, mut cur) = (0.0, s1);
        let mut sum = spec.harmonics[0] * s1;
        for k in 1..k_max {
            let next = 2.0 * c1 * cur - prev;
            prev = cur;
            cur = next;
            let b = spec.bright_floor + (1.0 - spec.bright_floor) * bright[k];
            bright[k] *= per_sample[k];
            sum += spec.harmonics[k] * tilt * b * cur;
        }
        out.push((gain * env * sum) as f32);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tone_length_silence_at_ends_and_velocity() {
        let sr = 44100;
        let loud = render_tone(&MELODIC, 69, 120, 0.5, sr);
        let soft = render_tone(&MELODIC, 69, 40, 0.5, sr);
        assert_eq!(
            loud.len(),
            ((0.5 + MELODIC.envelope.release) * sr as f64).ceil() as usize
        );
        assert_eq!(loud[0], 0.0);
        assert!(loud.last().unwrap().abs() < 1e-6);
        let peak = |x: &[f32]| x.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(peak(&loud) > 2.0 * peak(&soft));
        assert!(peak(&loud) < 0.6);
    }

    #[test]
    fn no_harmonics_above_nyquist() {
        // Pitch 120 ≈ 8.4 kHz is above 0.45 × 16 kHz = 7.2 kHz: left out rather than aliased.
        let x = render_tone(&MELODIC, 120, 100, 0.1, 16000);
        assert!(x.iter().all(|s| *s == 0.0));
        let y = render_tone(&BASS, 28, 100, 0.1, 16000);
        assert!(y.iter().any(|s| s.abs() > 0.01));
    }
}
