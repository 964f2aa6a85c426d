//! Headroom and a look-ahead peak limiter: the output never exceeds the ceiling.
//!
//! Dense, loud music is first turned down as a whole (a static gain that brings the 99.5th
//! percentile of its frame peaks to the ceiling), so the limiter only has to catch the remaining
//! transients instead of pumping all the time. The limiter's gain moves smoothly: it ramps down
//! over the 5 ms look-ahead before a peak and recovers exponentially after it, so peaks are turned
//! down without hard clipping or clicks.

/// Default ceiling: -1 dBFS.
pub const CEILING: f32 = 0.891_250_9;

/// What the limiter did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LimiterReport {
    /// Static gain reduction applied to the whole audio first, dB (0 for music with headroom).
    pub headroom_db: f64,
    /// Largest gain reduction applied by the limiter, in dB (0 when no peak was over the ceiling).
    pub max_reduction_db: f64,
    /// Frames whose gain was below 1.
    pub limited_frames: usize,
}

/// Percentile of the frame peaks used for the static headroom gain.
pub const HEADROOM_PERCENTILE: f64 = 0.999;

/// The static gain (≤ 1) that brings the [`HEADROOM_PERCENTILE`] of the frame peaks of the
/// sounding frames (above -60 dBFS) down to `ceiling`.
pub fn headroom_gain(samples: &[f32], channels: usize, ceiling: f32) -> f32 {
    let ch = channels.max(1);
    let mut peaks: Vec<f32> = samples
        .chunks(ch)
        .map(|f| f.iter().fold(0f32, |m, s| m.max(s.abs())))
        .filter(|&p| p > 1e-3)
        .collect();
    if peaks.is_empty() {
        return 1.0;
    }
    let k = ((peaks.len() - 1) as f64 * HEADROOM_PERCENTILE).round() as usize;
    let (_, p, _) = peaks.select_nth_unstable_by(k, f32::total_cmp);
    if *p > ceiling {
        ceiling / *p
    } else {
        1.0
    }
}

/// Bring interleaved `samples` (`channels` per frame) under `ceiling` in place: the static
/// [`headroom_gain`], then the look-ahead limiter ([`limit_peaks`]).
pub fn limit(
    samples: &mut [f32],
    channels: usize,
    sample_rate: u32,
    ceiling: f32,
) -> LimiterReport {
    let g = headroom_gain(samples, channels, ceiling);
    if g < 1.0 {
        samples.iter_mut().for_each(|s| *s *= g);
    }
    let mut r = limit_peaks(samples, channels, sample_rate, ceiling);
    r.headroom_db = -20.0 * (g as f64).log10();
    r
}

/// The look-ahead limiter alone: 5 ms look-ahead, 80 ms release.
pub fn limit_peaks(
    samples: &mut [f32],
    channels: usize,
    sample_rate: u32,
    ceiling: f32,
) -> LimiterReport {
    let ch = channels.max(1);
    let frames = samples.len() / ch;
    if frames == 0 {
        return LimiterReport::default();
    }
    let required: Vec<f64> = samples
        .chunks(ch)
        .map(|f| {
            let peak = f.iter().fold(0f32, |m, s| m.max(s.abs()));
            if peak > ceiling {
                (ceiling / peak) as f64
            } else {
                1.0
            }
        })
        .collect();
    if required.iter().all(|&g| g >= 1.0) {
        return LimiterReport::default();
    }
    let look = ((0.005 * sample_rate as f64) as usize).max(1);
    // m[i] = min(required[i .. i + look]) (monotonic deque, O(n)).
    let mut m = vec![1.0f64; frames];
    let mut deque: std::collections::VecDeque<usize> = std::collections::VecDeque::new();
    for j in (0..frames).rev() {
        while deque.back().is_some_and(|&k| required[k] >= required[j]) {
            deque.pop_back();
        }
        deque.push_back(j);
        while deque.front().is_some_and(|&k| k >= j + look) {
            deque.pop_front();
        }
        m[j] = deque.front().map(|&k| required[k]).unwrap_or(1.0);
    }
    // s[i] = mean(m[i - look + 1 ..= i]) (m = 1 before the start): s[p] ≤ required[p] for every p,
    // because each of those windows contains p.
    let alpha = 1.0 - (-1.0 / (0.08 * sample_rate as f64)).exp();
    let mut sum = look as f64; // look ones before the start
    let mut gain = 1.0f64;
    let mut report = LimiterReport::default();
    let mut min_gain = 1.0f64;
    for i in 0..frames {
        sum += m[i] - if i >= look { m[i - look] } else { 1.0 };
        let smooth = (sum / look as f64).min(1.0);
        gain = smooth.min(gain + (1.0 - gain) * alpha);
        if gain > 1.0 - 1e-4 {
            // Within 0.001 dB of unity: the release is over.
            gain = 1.0;
        }
        if gain < 1.0 {
            report.limited_frames += 1;
        }
        min_gain = min_gain.min(gain);
        for s in &mut samples[i * ch..(i + 1) * ch] {
            // The clamp only catches rounding in the running sum.
            *s = (*s as f64 * gain).clamp(-(ceiling as f64), ceiling as f64) as f32;
        }
    }
    report.max_reduction_db = -20.0 * min_gain.log10();
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_input_is_untouched() {
        let mut x: Vec<f32> = (0..1000).map(|i| 0.5 * (i as f32 * 0.1).sin()).collect();
        let y = x.clone();
        let r = limit(&mut x, 1, 44100, CEILING);
        assert_eq!(x, y);
        assert_eq!(r, LimiterReport::default());
    }

    #[test]
    fn loud_dense_music_is_turned_down_as_a_whole_then_limited() {
        // A steady tone at amplitude 2 with a few spikes at 4: the headroom gain takes the tone to
        // the ceiling, the limiter catches the spikes.
        let mut x: Vec<f32> = (0..44100)
            .map(|i| {
                let s = 2.0 * (i as f32 * 2.0 * std::f32::consts::PI / 100.0).sin();
                if i % 10000 == 5025 {
                    4.0
                } else {
                    s
                }
            })
            .collect();
        let r = limit(&mut x, 1, 44100, CEILING);
        assert!(
            (r.headroom_db - 20.0 * (2.0 / CEILING as f64).log10()).abs() < 0.05,
            "{r:?}"
        );
        assert!(
            r.max_reduction_db > 5.0 && r.max_reduction_db < 6.5,
            "{r:?}"
        );
        assert!(x.iter().all(|s| s.abs() <= CEILING));
    }

    #[test]
    fn loud_burst_is_held_under_the_ceiling_smoothly() {
        let sr = 44100;
        let mut x: Vec<f32> = (0..sr)
            .flat_map(|i| {
                let a = if (10000..20000).contains(&i) {
                    3.0
                } else {
                    0.3
                };
                // 220.5 Hz: a period of exactly 200 samples, so the burst starts and ends on zero.
                let s = a * (i as f32 * 2.0 * std::f32::consts::PI / 200.0).sin();
                [s, -s]
            })
            .collect();
        let r = limit_peaks(&mut x, 2, sr as u32, CEILING);
        let peak = x.iter().fold(0f32, |m, s| m.max(s.abs()));
        assert!(peak <= CEILING, "{peak}");
        assert!(
            r.max_reduction_db > 9.0 && r.max_reduction_db < 12.0,
            "{r:?}"
        );
        // No jumps bigger than the signal itself can make (220.5 Hz at ≤ 0.9: ≈ 0.028 per sample).
        let jump = x
            .chunks(2)
            .collect::<Vec<_>>()
            .windows(2)
            .map(|w| (w[1][0] - w[0][0]).abs())
            .fold(0f32, f32::max);
        assert!(jump < 0.06, "jump {jump}");
        // Recovered well after the burst (the release is 80 ms).
        let tail = x[2 * 40000..2 * 40400]
            .iter()
            .fold(0f32, |m, s| m.max(s.abs()));
        assert!(tail > 0.29, "{tail}");
        // The gain is back at exactly 1 well after the burst: only the burst and its release count.
        assert!(r.limited_frames < 10000 + 10 * 3528, "{r:?}");
    }
}
