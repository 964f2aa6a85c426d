//! A look-ahead peak limiter: the output never exceeds the ceiling, and the gain moves smoothly
//! (it ramps down over the look-ahead before a peak and recovers exponentially after it), so loud
//! passages are turned down without hard clipping or clicks.

/// Default ceiling: -1 dBFS.
pub const CEILING: f32 = 0.891_250_9;

/// What the limiter did.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LimiterReport {
    /// Largest gain reduction applied, in dB (0 when the input never exceeded the ceiling).
    pub max_reduction_db: f64,
    /// Frames whose gain was below 1.
    pub limited_frames: usize,
}

/// Limit interleaved `samples` (`channels` per frame) in place to `ceiling`, with a look-ahead of
/// 5 ms and a release time constant of 80 ms.
pub fn limit(
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
        assert_eq!(r.limited_frames, 0);
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
        let r = limit(&mut x, 2, sr as u32, CEILING);
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
    }
}
