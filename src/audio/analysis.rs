//! Measuring audio: levels in dBFS, an FFT magnitude spectrum, fundamental-frequency estimation and
//! the largest sample-to-sample jump (clicks). Used by `render`'s report, the tests and the
//! spectrogram picture.

use std::f64::consts::PI;

/// Level of an amplitude relative to full scale, in dB (-inf for 0, floored at -200).
pub fn dbfs(amplitude: f64) -> f64 {
    if amplitude <= 1e-10 {
        -200.0
    } else {
        20.0 * amplitude.log10()
    }
}

/// Root-mean-square level of `samples` in dBFS (-200 for silence or no samples).
pub fn rms_dbfs(samples: &[f32]) -> f64 {
    if samples.is_empty() {
        return -200.0;
    }
    let ms = samples.iter().map(|&s| (s as f64).powi(2)).sum::<f64>() / samples.len() as f64;
    dbfs(ms.sqrt())
}

/// Largest absolute sample.
pub fn peak(samples: &[f32]) -> f32 {
    samples.iter().fold(0f32, |m, s| m.max(s.abs()))
}

/// Largest absolute difference between neighbouring samples (one channel).
pub fn max_jump(samples: &[f32]) -> f32 {
    samples
        .windows(2)
        .map(|w| (w[1] - w[0]).abs())
        .fold(0f32, f32::max)
}

/// In-place iterative radix-2 FFT of (re, im) pairs; the length must be a power of two.
pub fn fft(data: &mut [(f64, f64)]) {
    let n = data.len();
    if n <= 1 {
        return;
    }
    debug_assert!(n.is_power_of_two());
    let mut j = 0usize;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            data.swap(i, j);
        }
    }
    let mut len = 2;
    while len <= n {
        let ang = -2.0 * PI / len as f64;
        let (wr, wi) = (ang.cos(), ang.sin());
        for start in (0..n).step_by(len) {
            let (mut cr, mut ci) = (1.0, 0.0);
            for k in 0..len / 2 {
                let (ar, ai) = data[start + k];
                let (br, bi) = data[start + k + len / 2];
                let (tr, ti) = (br * cr - bi * ci, br * ci + bi * cr);
                data[start + k] = (ar + tr, ai + ti);
                data[start + k + len / 2] = (ar - tr, ai - ti);
                let ncr = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = ncr;
            }
        }
        len <<= 1;
    }
}

/// Magnitude spectrum of `samples` with a Hann window, zero-padded to at least `min_size` (a power
/// of two): returns (bin width in Hz, magnitudes of bins 0..=N/2, scaled so a full-scale sine
/// reads about 1).
pub fn spectrum(samples: &[f32], sample_rate: u32, min_size: usize) -> (f64, Vec<f64>) {
    let n = samples.len().max(min_size).max(2).next_power_of_two();
    let len = samples.len().max(1);
    let mut data: Vec<(f64, f64)> = vec![(0.0, 0.0); n];
    for (i, &s) in samples.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * PI * i as f64 / (len as f64 - 1.0).max(1.0)).cos();
        data[i] = (s as f64 * w, 0.0);
    }
    fft(&mut data);
    let scale = 4.0 / len as f64; // Hann coherent gain 0.5, one-sided ×2
    let mags = data[..=n / 2]
        .iter()
        .map(|(r, i)| (r * r + i * i).sqrt() * scale)
        .collect();
    (sample_rate as f64 / n as f64, mags)
}

/// Frequency of the spectral peak near bin `k`, refined by parabolic interpolation of the log
/// magnitudes of bins k-1, k, k+1.
fn refine(mags: &[f64], k: usize, bin_hz: f64) -> f64 {
    if k == 0 || k + 1 >= mags.len() {
        return k as f64 * bin_hz;
    }
    let (a, b, c) = (
        mags[k - 1].max(1e-300).ln(),
        mags[k].max(1e-300).ln(),
        mags[k + 1].max(1e-300).ln(),
    );
    let denom = a - 2.0 * b + c;
    let delta = if denom.abs() < 1e-12 {
        0.0
    } else {
        0.5 * (a - c) / denom
    };
    (k as f64 + delta.clamp(-0.5, 0.5)) * bin_hz
}

/// The spectral peaks: local maxima at least `rel` × the largest magnitude, as (Hz, magnitude),
/// lowest frequency first, above `min_hz`.
pub fn peaks(samples: &[f32], sample_rate: u32, min_hz: f64, rel: f64) -> Vec<(f64, f64)> {
    let (bin, mags) = spectrum(samples, sample_rate, 1 << 16);
    let top = mags.iter().copied().fold(0.0, f64::max);
    if top <= 0.0 {
        return Vec::new();
    }
    let first = ((min_hz / bin).ceil() as usize).max(1);
    (first..mags.len().saturating_sub(1))
        .filter(|&k| mags[k] >= rel * top && mags[k] > mags[k - 1] && mags[k] >= mags[k + 1])
        .map(|k| (refine(&mags, k, bin), mags[k]))
        .collect()
}

/// Estimate the fundamental frequency of a steady pitched sound: the lowest spectral peak (above
/// 20 Hz) that holds at least 10 % of the strongest peak's magnitude. Zero-padded to ≥ 65 536
/// points with parabolic interpolation: a few hundredths of a Hz for a pure tone of 0.2 s or more.
pub fn estimate_f0(samples: &[f32], sample_rate: u32) -> Option<f64> {
    peaks(samples, sample_rate, 20.0, 0.1).first().map(|p| p.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(f: f64, secs: f64, sr: u32, amp: f64) -> Vec<f32> {
        (0..(secs * sr as f64) as usize)
            .map(|i| (amp * (2.0 * PI * f * i as f64 / sr as f64).sin()) as f32)
            .collect()
    }

    #[test]
    fn levels() {
        assert!((rms_dbfs(&sine(440.0, 1.0, 44100, 1.0)) + 3.0103).abs() < 0.01);
        assert_eq!(rms_dbfs(&[0.0; 10]), -200.0);
        assert!((dbfs(0.1) + 20.0).abs() < 1e-9);
        assert!((peak(&[0.1, -0.5, 0.2]) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn f0_of_pure_and_harmonic_tones() {
        let f0 = estimate_f0(&sine(440.0, 0.3, 44100, 0.5), 44100).unwrap();
        assert!((f0 - 440.0).abs() < 0.05, "{f0}");
        // A tone whose 2nd harmonic is louder than its fundamental still reads as 220 Hz.
        let a = sine(220.0, 0.4, 48000, 0.3);
        let b = sine(440.0, 0.4, 48000, 0.6);
        let x: Vec<f32> = a.iter().zip(&b).map(|(p, q)| p + q).collect();
        let f0 = estimate_f0(&x, 48000).unwrap();
        assert!((f0 - 220.0).abs() < 0.05, "{f0}");
        assert_eq!(estimate_f0(&[0.0; 1000], 44100), None);
    }

    #[test]
    fn fft_of_impulse_is_flat() {
        let mut d = vec![(0.0, 0.0); 8];
        d[0] = (1.0, 0.0);
        fft(&mut d);
        assert!(d
            .iter()
            .all(|(r, i)| (r - 1.0).abs() < 1e-12 && i.abs() < 1e-12));
    }
}
