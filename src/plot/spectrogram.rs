//! A spectrogram picture of audio: time across, log frequency up (40 Hz to 16 kHz or Nyquist),
//! level in dBFS as colour (-96 dB black … 0 dB pale yellow), with a colour bar.

use super::canvas::{Canvas, Color, BLACK, DARK_GREY, WHITE};
use super::chart::{nice_ticks, tick_label};
use crate::audio::analysis::{dbfs, spectrum};

/// Lowest and highest level on the colour scale, dBFS.
const DB_RANGE: (f64, f64) = (-96.0, 0.0);
const WINDOW: usize = 4096;

/// An "inferno"-like colour map for v in [0, 1].
pub fn heat(v: f64) -> Color {
    const STOPS: [(f64, Color); 6] = [
        (0.0, [0, 0, 4]),
        (0.2, [40, 11, 84]),
        (0.4, [101, 21, 110]),
        (0.6, [188, 55, 84]),
        (0.8, [249, 142, 9]),
        (1.0, [252, 255, 164]),
    ];
    let v = v.clamp(0.0, 1.0);
    for w in STOPS.windows(2) {
        let ((a, ca), (b, cb)) = (w[0], w[1]);
        if v <= b {
            let t = (v - a) / (b - a);
            let mix = |x: u8, y: u8| (x as f64 + (y as f64 - x as f64) * t).round() as u8;
            return [mix(ca[0], cb[0]), mix(ca[1], cb[1]), mix(ca[2], cb[2])];
        }
    }
    STOPS[STOPS.len() - 1].1
}

/// Draw the spectrogram of mono `samples`.
pub fn spectrogram(
    samples: &[f32],
    sample_rate: u32,
    title: &str,
    width: u32,
    height: u32,
) -> Canvas {
    let mut c = Canvas::new(width, height, WHITE);
    let (left, top) = (64i64, 30i64);
    let (w, h) = (
        (width as i64 - left - 70).max(10),
        (height as i64 - top - 40).max(10),
    );
    c.text(left, 6, title, 2, BLACK);
    let sr = sample_rate.max(1) as f64;
    let secs = samples.len() as f64 / sr;
    let (f_lo, f_hi) = (40.0f64, (sr / 2.0).min(16_000.0));
    let (l_lo, l_hi) = (f_lo.ln(), f_hi.ln());
    let row_hz = |row: f64| (l_hi - (row / h as f64) * (l_hi - l_lo)).exp();
    let n = samples.len();
    let mut frame = vec![0f32; WINDOW];
    for px in 0..w {
        let centre = ((px as f64 + 0.5) / w as f64 * n as f64) as i64;
        for (k, s) in frame.iter_mut().enumerate() {
            let i = centre - WINDOW as i64 / 2 + k as i64;
            *s = if i >= 0 && (i as usize) < n {
                samples[i as usize]
            } else {
                0.0
            };
        }
        let (bin_hz, mags) = spectrum(&frame, sample_rate, WINDOW);
        for py in 0..h {
            // Bins from this row's lower edge to its upper edge (at least one).
            let (f_top, f_bot) = (row_hz(py as f64), row_hz(py as f64 + 1.0));
            let b0 = ((f_bot / bin_hz).floor() as usize).min(mags.len() - 1);
            let b1 = ((f_top / bin_hz).ceil() as usize).clamp(b0 + 1, mags.len());
            let m = mags[b0..b1].iter().copied().fold(0.0, f64::max);
            let v = (dbfs(m) - DB_RANGE.0) / (DB_RANGE.1 - DB_RANGE.0);
            c.put(left + px, top + py, heat(v));
        }
    }
    c.rect(left, top, w, h, DARK_GREY);
    // Frequency ticks.
    for f in [50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0] {
        if f < f_lo || f > f_hi {
            continue;
        }
        let y = top + ((l_hi - f.ln()) / (l_hi - l_lo) * h as f64).round() as i64;
        c.fill_rect(left - 4, y, 4, 1, DARK_GREY);
        let l = if f >= 1000.0 {
            format!("{}k", f / 1000.0)
        } else {
            format!("{f}")
        };
        c.text(
            left - Canvas::text_width(&l, 1) - 6,
            y - 4,
            &l,
            1,
            DARK_GREY,
        );
    }
    c.text_vertical(4, top + h / 2 + 40, "frequency (Hz)", 1, BLACK);
    // Time ticks.
    for t in nice_ticks(0.0, secs.max(1e-3), 8) {
        let x = left + (t / secs.max(1e-3) * (w - 1) as f64).round() as i64;
        c.fill_rect(x, top + h, 1, 4, DARK_GREY);
        let l = tick_label(t);
        c.text(
            x - Canvas::text_width(&l, 1) / 2,
            top + h + 6,
            &l,
            1,
            DARK_GREY,
        );
    }
    c.text(left + w / 2 - 28, top + h + 20, "seconds", 1, BLACK);
    // Colour bar.
    let bx = left + w + 14;
    for py in 0..h {
        let v = 1.0 - py as f64 / (h - 1).max(1) as f64;
        c.fill_rect(bx, top + py, 12, 1, heat(v));
    }
    c.rect(bx, top, 12, h, DARK_GREY);
    for db in [0.0, -24.0, -48.0, -72.0, -96.0] {
        let y = top + ((DB_RANGE.1 - db) / (DB_RANGE.1 - DB_RANGE.0) * (h - 1) as f64) as i64;
        c.text(bx + 16, y - 4, &format!("{db:.0}"), 1, DARK_GREY);
    }
    c.text(bx - 4, top + h + 6, "dBFS", 1, DARK_GREY);
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tone_lights_its_row() {
        let sr = 16000;
        let x: Vec<f32> = (0..sr)
            .map(|i| 0.5 * (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / sr as f32).sin())
            .collect();
        let c = spectrogram(&x, sr as u32, "t", 300, 200);
        let (left, top, h) = (64u32, 30u32, 200 - 30 - 40);
        let (l_lo, l_hi) = (40f64.ln(), 8000f64.ln());
        let y_1k = top + ((l_hi - 1000f64.ln()) / (l_hi - l_lo) * h as f64) as u32;
        let bright = |y: u32| {
            c.pixel(left + 80, y)
                .map(|p| p[0] as u32 + p[1] as u32)
                .unwrap_or(0)
        };
        assert!(bright(y_1k) > 300, "{}", bright(y_1k));
        assert!(bright(top + h - 3) < 60, "{}", bright(top + h - 3));
    }
}
