//! Where playback is: seconds → bar number through the sequence's tempo map, and the progress line
//! `play` shows.

use crate::music::note_sequence::DEFAULT_QPM;
use crate::music::NoteSequence;

/// Maps seconds to bars with the tempo map of a sequence and its first time signature (4/4 when
/// it has none).
#[derive(Debug, Clone, PartialEq)]
pub struct BarClock {
    /// (start seconds, quarters elapsed at that time, qpm) of each tempo segment.
    segments: Vec<(f64, f64, f64)>,
    quarters_per_bar: f64,
    /// Bars of music (the sequence's `total_time`; releases ringing on do not start a new bar).
    total_bars: usize,
}

impl BarClock {
    pub fn from_sequence(seq: &NoteSequence) -> Self {
        let mut tempos: Vec<(f64, f64)> = seq
            .tempos
            .iter()
            .filter(|t| t.qpm.is_finite() && t.qpm > 0.0 && t.time.is_finite())
            .map(|t| (t.time.max(0.0), t.qpm))
            .collect();
        tempos.sort_by(|a, b| a.0.total_cmp(&b.0));
        if tempos.first().is_none_or(|t| t.0 > 0.0) {
            tempos.insert(0, (0.0, DEFAULT_QPM));
        }
        let mut segments = Vec::with_capacity(tempos.len());
        let mut quarters = 0.0;
        for (i, &(time, qpm)) in tempos.iter().enumerate() {
            if i > 0 {
                let (pt, pq) = tempos[i - 1];
                quarters += (time - pt) * pq / 60.0;
            }
            segments.push((time, quarters, qpm));
        }
        let quarters_per_bar = seq
            .time_signatures
            .first()
            .filter(|ts| ts.numerator > 0 && ts.denominator > 0)
            .map(|ts| ts.numerator as f64 * 4.0 / ts.denominator as f64)
            .unwrap_or(4.0);
        let mut clock = BarClock {
            segments,
            quarters_per_bar,
            total_bars: 1,
        };
        clock.total_bars = clock.bars_in(seq.total_time);
        clock
    }

    /// Bars of music in the sequence (at least 1).
    pub fn total_bars(&self) -> usize {
        self.total_bars
    }

    /// Quarter notes elapsed at `seconds`.
    pub fn quarters_at(&self, seconds: f64) -> f64 {
        let s = seconds.max(0.0);
        let seg = self
            .segments
            .iter()
            .rev()
            .find(|seg| seg.0 <= s)
            .unwrap_or(&self.segments[0]);
        seg.1 + (s - seg.0) * seg.2 / 60.0
    }

    /// Bar (counted from 1) sounding at `seconds`.
    pub fn bar_at(&self, seconds: f64) -> usize {
        (self.quarters_at(seconds) / self.quarters_per_bar + 1e-9).floor() as usize + 1
    }

    /// Number of bars (started) in `seconds`.
    pub fn bars_in(&self, seconds: f64) -> usize {
        (self.quarters_at(seconds) / self.quarters_per_bar - 1e-9)
            .ceil()
            .max(1.0) as usize
    }
}

/// `m:ss.s`.
pub fn format_time(seconds: f64) -> String {
    let s = seconds.max(0.0);
    let m = (s / 60.0).floor();
    format!("{}:{:04.1}", m as u64, s - 60.0 * m)
}

/// The progress line: `0:12.3 / 0:45.0  bar 7/23` (no bar for a WAV file). The bar stays at the
/// last bar while the final notes ring out.
pub fn progress_line(position: f64, length: f64, clock: Option<&BarClock>) -> String {
    let pos = position.clamp(0.0, length.max(0.0));
    let mut s = format!("{} / {}", format_time(pos), format_time(length));
    if let Some(c) = clock {
        let total = c.total_bars();
        s.push_str(&format!("  bar {}/{}", c.bar_at(pos).min(total), total));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::note_sequence::{Tempo, TimeSignature};

    #[test]
    fn bars_follow_the_tempo_map() {
        let seq = NoteSequence {
            total_time: 8.0,
            tempos: vec![
                Tempo {
                    time: 0.0,
                    qpm: 120.0,
                },
                Tempo {
                    time: 4.0,
                    qpm: 60.0,
                },
            ],
            ..Default::default()
        };
        let c = BarClock::from_sequence(&seq);
        assert_eq!(c.bar_at(0.0), 1);
        assert_eq!(c.bar_at(1.99), 1);
        assert_eq!(c.bar_at(2.0), 2);
        assert_eq!(c.bar_at(4.0), 3); // 8 quarters at 120 qpm
        assert_eq!(c.bar_at(7.99), 3); // then 4 s per bar
        assert_eq!(c.bar_at(8.0), 4);
        assert_eq!(c.bars_in(8.0), 3);
        assert_eq!(
            progress_line(2.5, 8.0, Some(&c)),
            "0:02.5 / 0:08.0  bar 2/3"
        );
    }

    #[test]
    fn meter_and_defaults() {
        let seq = NoteSequence {
            time_signatures: vec![TimeSignature {
                time: 0.0,
                numerator: 3,
                denominator: 4,
            }],
            ..Default::default()
        };
        let c = BarClock::from_sequence(&seq); // 120 qpm, 3 quarters per bar = 1.5 s
        assert_eq!(c.bar_at(1.6), 2);
        assert_eq!(format_time(75.3), "1:15.3");
        assert_eq!(progress_line(1.0, 2.0, None), "0:01.0 / 0:02.0");
    }
}
