//! Small signal-processing parts shared by the built-in voices: a deterministic noise source,
//! RBJ biquad filters, equal-power panning and the MIDI pitch → frequency map.

use std::f64::consts::PI;

/// Frequency in Hz of a MIDI pitch (A4 = 69 = 440 Hz, equal temperament).
pub fn midi_to_hz(pitch: f64) -> f64 {
    440.0 * 2f64.powf((pitch - 69.0) / 12.0)
}

/// Linear gain of a MIDI velocity (1..=127): a gentle power curve, 127 → 1.0, 64 → ~0.36.
pub fn velocity_gain(velocity: u8) -> f64 {
    (velocity.min(127) as f64 / 127.0).powf(1.5)
}

/// Equal-power pan: -1 = hard left, 0 = centre, 1 = hard right → (left gain, right gain).
pub fn pan_gains(pan: f64) -> (f32, f32) {
    let a = (pan.clamp(-1.0, 1.0) + 1.0) * PI / 4.0;
    (a.cos() as f32, a.sin() as f32)
}

/// White noise in [-1, 1) from a xorshift generator: the same seed gives the same hit every render.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    pub fn new(seed: u64) -> Self {
        // splitmix64 of the seed so nearby seeds give unrelated streams; never zero.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Noise((z ^ (z >> 31)) | 1)
    }

    pub fn next_sample(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
}

/// A biquad filter (Robert Bristow-Johnson's cookbook), direct form I.
#[derive(Debug, Clone)]
pub struct Biquad {
    b0: f64,
    b1: f64,
    b2: f64,
    a1: f64,
    a2: f64,
    x1: f64,
    x2: f64,
    y1: f64,
    y2: f64,
}

impl Biquad {
    fn from_coeffs(b0: f64, b1: f64, b2: f64, a0: f64, a1: f64, a2: f64) -> Self {
        Biquad {
            b0: b0 / a0,
            b1: b1 / a0,
            b2: b2 / a0,
            a1: a1 / a0,
            a2: a2 / a0,
            x1: 0.0,
            x2: 0.0,
            y1: 0.0,
            y2: 0.0,
        }
    }

    fn omega(freq: f64, sample_rate: f64, q: f64) -> (f64, f64) {
        // Keep the corner below Nyquist whatever the sample rate.
        let f = freq.clamp(10.0, 0.45 * sample_rate);
        let w = 2.0 * PI * f / sample_rate;
        (w.cos(), w.sin() / (2.0 * q))
    }

    pub fn lowpass(freq: f64, q: f64, sample_rate: f64) -> Self {
        let (c, alpha) = Self::omega(freq, sample_rate, q);
        Self::from_coeffs(
            (1.0 - c) / 2.0,
            1.0 - c,
            (1.0 - c) / 2.0,
            1.0 + alpha,
            -2.0 * c,
            1.0 - alpha,
        )
    }

    pub fn highpass(freq: f64, q: f64, sample_rate: f64) -> Self {
        let (c, alpha) = Self::omega(freq, sample_rate, q);
        Self::from_coeffs(
            (1.0 + c) / 2.0,
            -(1.0 + c),
            (1.0 + c) / 2.0,
            1.0 + alpha,
            -2.0 * c,
            1.0 - alpha,
        )
    }

    /// Band-pass with 0 dB gain at the centre frequency.
    pub fn bandpass(freq: f64, q: f64, sample_rate: f64) -> Self {
        let (c, alpha) = Self::omega(freq, sample_rate, q);
        Self::from_coeffs(alpha, 0.0, -alpha, 1.0 + alpha, -2.0 * c, 1.0 - alpha)
    }

    pub fn process(&mut self, x: f64) -> f64 {
        let y = self.b0 * x + self.b1 * self.x1 + self.b2 * self.x2
            - self.a1 * self.y1
            - self.a2 * self.y2;
        self.x2 = self.x1;
        self.x1 = x;
        self.y2 = self.y1;
        self.y1 = y;
        y
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pitch_and_pan() {
        assert!((midi_to_hz(69.0) - 440.0).abs() < 1e-9);
        assert!((midi_to_hz(57.0) - 220.0).abs() < 1e-9);
        let (l, r) = pan_gains(0.0);
        assert!((l - r).abs() < 1e-6 && (l * l + r * r - 1.0).abs() < 1e-6);
        assert!(pan_gains(-1.0).1.abs() < 1e-6);
        assert!(velocity_gain(127) == 1.0 && velocity_gain(64) < velocity_gain(100));
    }

    #[test]
    fn noise_is_deterministic_centred_and_bounded() {
        let a: Vec<f64> = {
            let mut n = Noise::new(7);
            (0..10000).map(|_| n.next_sample()).collect()
        };
        let mut n = Noise::new(7);
        assert!(a
            .iter()
            .all(|&x| x == n.next_sample() && (-1.0..1.0).contains(&x)));
        let mean = a.iter().sum::<f64>() / a.len() as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
    }

    #[test]
    fn highpass_removes_dc_and_lowpass_keeps_it() {
        let mut hp = Biquad::highpass(1000.0, 0.707, 44100.0);
        let mut lp = Biquad::lowpass(1000.0, 0.707, 44100.0);
        let (mut h, mut l) = (0.0, 0.0);
        for _ in 0..44100 {
            h = hp.process(1.0);
            l = lp.process(1.0);
        }
        assert!(h.abs() < 1e-6 && (l - 1.0).abs() < 1e-6);
    }
}
