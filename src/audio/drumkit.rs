//! Synthesized drums for Magenta's 9 drum classes (kick, snare, closed and open hi-hat, low, mid and
//! high tom, crash, ride): pitch-swept sines for the skins, filtered noise for the snares and
//! cymbals, and a TR-808-style cluster of six square waves for the metallic ring.
//!
//! A hit is a one-shot: its length depends on the sound, not on the MIDI note's duration. Each hit
//! fades in over 0.7 ms and fades out over the last 15 % of its length, so it starts and ends on
//! zero.

use super::dsp::{velocity_gain, Biquad, Noise};
use crate::music::drums::{drum_class, DRUM_CLASSES, DRUM_CLASS_PITCHES};
use std::f64::consts::PI;

/// One of the 9 drum sounds (in Magenta's class order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DrumSound {
    Kick,
    Snare,
    ClosedHat,
    OpenHat,
    LowTom,
    MidTom,
    HighTom,
    Crash,
    Ride,
}

impl DrumSound {
    pub const ALL: [DrumSound; DRUM_CLASSES] = [
        DrumSound::Kick,
        DrumSound::Snare,
        DrumSound::ClosedHat,
        DrumSound::OpenHat,
        DrumSound::LowTom,
        DrumSound::MidTom,
        DrumSound::HighTom,
        DrumSound::Crash,
        DrumSound::Ride,
    ];

    /// The sound of a Magenta drum class (0..9).
    pub fn from_class(class: usize) -> Option<Self> {
        Self::ALL.get(class).copied()
    }

    /// The sound for a General MIDI drum pitch: its Magenta class, or for a pitch outside the map
    /// the class of the nearest mapped pitch.
    pub fn for_pitch(pitch: u8) -> Self {
        let class = drum_class(pitch).unwrap_or_else(|| {
            let mut best = (u8::MAX, 0);
            for (c, pitches) in DRUM_CLASS_PITCHES.iter().enumerate() {
                for &p in pitches.iter() {
                    let d = p.abs_diff(pitch);
                    if d < best.0 {
                        best = (d, c);
                    }
                }
            }
            best.1
        });
        Self::ALL[class]
    }

    /// Length of a hit in seconds.
    pub fn seconds(self) -> f64 {
        match self {
            DrumSound::Kick => 0.5,
            DrumSound::Snare => 0.35,
            DrumSound::ClosedHat => 0.12,
            DrumSound::OpenHat => 0.8,
            DrumSound::LowTom | DrumSound::MidTom | DrumSound::HighTom => 0.6,
            DrumSound::Crash => 2.2,
            DrumSound::Ride => 1.4,
        }
    }

    /// Stereo position (-1 left … 1 right), as seen from the audience.
    pub fn pan(self) -> f64 {
        match self {
            DrumSound::Kick | DrumSound::Snare => 0.0,
            DrumSound::ClosedHat | DrumSound::OpenHat => 0.35,
            DrumSound::HighTom => 0.25,
            DrumSound::MidTom => 0.0,
            DrumSound::LowTom => -0.25,
            DrumSound::Crash => -0.4,
            DrumSound::Ride => 0.45,
        }
    }
}

/// Six square waves at inharmonic ratios (the TR-808 cymbal oscillators), scaled by `ratio`.
struct Metal {
    phases: [f64; 6],
    steps: [f64; 6],
}

impl Metal {
    const HZ: [f64; 6] = [205.3, 304.4, 369.6, 522.7, 540.0, 800.0];

    fn new(ratio: f64, sample_rate: f64) -> Self {
        Metal {
            phases: [0.0, 0.17, 0.41, 0.63, 0.29, 0.88],
            steps: Self::HZ.map(|f| f * ratio / sample_rate),
        }
    }

    fn next_sample(&mut self) -> f64 {
        let mut s = 0.0;
        for (p, d) in self.phases.iter_mut().zip(self.steps) {
            s += if *p < 0.5 { 1.0 } else { -1.0 };
            *p = (*p + d).fract();
        }
        s / 6.0
    }
}

/// Render one hit of `sound` (mono). `seed` picks the noise (use e.g. the onset sample), so a
/// render is reproducible.
pub fn render_drum(sound: DrumSound, velocity: u8, sample_rate: u32, seed: u64) -> Vec<f32> {
    let sr = sample_rate as f64;
    let n = (sound.seconds() * sr).ceil() as usize;
    let v = velocity_gain(velocity);
    let mut noise = Noise::new(seed ^ ((sound as u64) << 56));
    let mut out = Vec::with_capacity(n);
    let mut phase = 0.0f64;
    let two_pi = 2.0 * PI;
    match sound {
        DrumSound::Kick => {
            let mut click_lp = Biquad::lowpass(3000.0, 0.7, sr);
            for i in 0..n {
                let t = i as f64 / sr;
                let f = 48.0 + 120.0 * (-t / 0.03).exp();
                phase += two_pi * f / sr;
                let body = phase.sin() * (-t / 0.22).exp();
                let click = click_lp.process(noise.next_sample()) * (-t / 0.003).exp();
                out.push(0.75 * (body + 0.5 * click));
            }
        }
        DrumSound::Snare => {
            let mut hp = Biquad::highpass(1800.0, 0.7, sr);
            let mut bp = Biquad::bandpass(5000.0, 0.6, sr);
            for i in 0..n {
                let t = i as f64 / sr;
                let tone = 0.5 * (two_pi * 190.0 * t).sin() * (-t / 0.05).exp()
                    + 0.3 * (two_pi * 330.0 * t).sin() * (-t / 0.035).exp();
                let wires = bp.process(hp.process(noise.next_sample())) * (-t / 0.12).exp();
                out.push(0.55 * (tone + 1.5 * wires));
            }
        }
        DrumSound::ClosedHat | DrumSound::OpenHat => {
            let decay = if sound == DrumSound::ClosedHat {
                0.03
            } else {
                0.28
            };
            let mut metal = Metal::new(1.0, sr);
            let mut bp = Biquad::bandpass(9000.0, 0.9, sr);
            let mut hp = Biquad::highpass(7000.0, 0.7, sr);
            for i in 0..n {
                let t = i as f64 / sr;
                let s = bp.process(metal.next_sample()) + 0.6 * noise.next_sample();
                out.push(0.8 * hp.process(s) * (-t / decay).exp());
            }
        }
        DrumSound::LowTom | DrumSound::MidTom | DrumSound::HighTom => {
            let base = match sound {
                DrumSound::LowTom => 95.0,
                DrumSound::MidTom => 135.0,
                _ => 180.0,
            };
            let mut lp = Biquad::lowpass(2000.0, 0.7, sr);
            for i in 0..n {
                let t = i as f64 / sr;
                let f = base * (1.0 + 0.6 * (-t / 0.04).exp());
                phase += two_pi * f / sr;
                let skin = phase.sin() * (-t / 0.2).exp();
                let stick = lp.process(noise.next_sample()) * (-t / 0.01).exp();
                out.push(0.65 * (skin + 0.4 * stick));
            }
        }
        DrumSound::Crash | DrumSound::Ride => {
            let crash = sound == DrumSound::Crash;
            let mut metal = Metal::new(if crash { 1.31 } else { 1.6 }, sr);
            let mut bp = Biquad::bandpass(if crash { 7000.0 } else { 5500.0 }, 1.2, sr);
            let mut hp = Biquad::highpass(if crash { 4500.0 } else { 6500.0 }, 0.7, sr);
            let (decay, noise_mix, level) = if crash {
                (0.7, 1.0, 0.45)
            } else {
                (0.45, 0.35, 0.7)
            };
            for i in 0..n {
                let t = i as f64 / sr;
                let s = bp.process(metal.next_sample()) + noise_mix * noise.next_sample();
                out.push(level * hp.process(s) * (-t / decay).exp());
            }
        }
    }
    // Fade in over 0.7 ms and out over the last 15 %: every hit starts and ends on zero.
    let fade_in = ((0.0007 * sr) as usize).max(1);
    let fade_out = ((0.15 * n as f64) as usize).max(1);
    for (i, s) in out.iter_mut().enumerate() {
        let mut g = v;
        if i < fade_in {
            g *= 0.5 - 0.5 * (PI * i as f64 / fade_in as f64).cos();
        }
        let from_end = n - i;
        if from_end <= fade_out {
            g *= 0.5 - 0.5 * (PI * (from_end - 1) as f64 / fade_out as f64).cos();
        }
        *s *= g;
    }
    out.into_iter().map(|s| s as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|s| (*s as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
    }

    #[test]
    fn every_sound_is_audible_bounded_and_click_free() {
        for s in DrumSound::ALL {
            let x = render_drum(s, 100, 44100, 1);
            let peak = x.iter().fold(0f32, |m, v| m.max(v.abs()));
            let first_10ms = rms(&x[..441]);
            assert!(first_10ms > 0.02, "{s:?} too quiet: {first_10ms}");
            assert!(peak < 0.95, "{s:?} peak {peak}");
            assert_eq!(x[0], 0.0, "{s:?}");
            assert!(x.last().unwrap().abs() < 1e-6, "{s:?}");
        }
    }

    #[test]
    fn unmapped_pitches_take_the_nearest_class() {
        assert_eq!(DrumSound::for_pitch(36), DrumSound::Kick);
        assert_eq!(DrumSound::for_pitch(42), DrumSound::ClosedHat);
        assert_eq!(DrumSound::for_pitch(21), DrumSound::ClosedHat); // 22 is a closed hat
        assert_eq!(DrumSound::for_pitch(0), DrumSound::ClosedHat);
        assert_eq!(DrumSound::for_pitch(120), DrumSound::MidTom); // 87 is the highest mapped
        assert_eq!(DrumSound::from_class(8), Some(DrumSound::Ride));
        assert_eq!(DrumSound::from_class(9), None);
    }

    #[test]
    fn same_seed_same_hit() {
        assert_eq!(
            render_drum(DrumSound::Snare, 90, 22050, 5),
            render_drum(DrumSound::Snare, 90, 22050, 5)
        );
    }
}
