//! Sample quality the way MGEval does it (Yang & Lerch, "On the evaluation of generative models in
//! music", 2018): features of every 2-bar melody phrase, one histogram per feature for generated
//! and for real phrases on shared bins over the pooled range, and the overlapping area of the two
//! normalised histograms (1 = the same distribution, 0 = disjoint). The same figure for two
//! disjoint halves of the real phrases is the ceiling a model can be measured against.
//!
//! Longer windows are cut into 2-bar segments; for them the fraction of bars that repeat an
//! earlier bar of the same window is reported, real vs generated.

use crate::music::melody::token_pitch;
use crate::music::melody::{NOTE_OFF, NO_EVENT};
use crate::music::quantize::STEPS_PER_BAR;
use serde::Serialize;

/// Steps of the segments features are computed on (2 bars).
pub const SEGMENT_STEPS: usize = 2 * STEPS_PER_BAR as usize;

/// Names of the features, in the order of [`PhraseFeatures::values`].
pub const FEATURE_NAMES: [&str; 8] = [
    "note count",
    "pitch range",
    "mean |interval|",
    "in major scale",
    "silent steps",
    "mean pitch",
    "pitch classes",
    "note length",
];

/// Features of one 2-bar melody segment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PhraseFeatures {
    pub note_count: f64,
    /// Highest minus lowest pitch, in semitones (0 with fewer than two notes).
    pub pitch_range: f64,
    /// Mean absolute interval between successive notes, in semitones (0 with fewer than two).
    pub mean_abs_interval: f64,
    /// Fraction of notes in the major scale that holds most of them (1 without notes).
    pub in_scale: f64,
    /// Fraction of steps where no note sounds.
    pub silent_steps: f64,
    /// Mean MIDI pitch (NaN without notes: such segments are left out of this feature).
    pub mean_pitch: f64,
    /// Number of distinct pitch classes.
    pub pitch_classes: f64,
    /// Mean note length in steps (NaN without notes).
    pub note_length: f64,
}

impl PhraseFeatures {
    /// The features in [`FEATURE_NAMES`] order.
    pub fn values(&self) -> [f64; 8] {
        [
            self.note_count,
            self.pitch_range,
            self.mean_abs_interval,
            self.in_scale,
            self.silent_steps,
            self.mean_pitch,
            self.pitch_classes,
            self.note_length,
        ]
    }
}

/// (pitch, start step, length in steps) of every note of a melody token sequence: an onset ends
/// the sounding note, a note-off ends it, the end of the sequence ends it.
pub fn melody_notes(tokens: &[u16]) -> Vec<(u8, usize, usize)> {
    let mut notes: Vec<(u8, usize, usize)> = Vec::new();
    let mut open: Option<usize> = None;
    for (step, &t) in tokens.iter().enumerate() {
        if let Some(p) = token_pitch(t) {
            if let Some(i) = open.take() {
                notes[i].2 = step - notes[i].1;
            }
            notes.push((p, step, 0));
            open = Some(notes.len() - 1);
        } else if t == NOTE_OFF {
            if let Some(i) = open.take() {
                notes[i].2 = step - notes[i].1;
            }
        } else if t != NO_EVENT {
            // Out-of-range tokens end the note like a note-off.
            if let Some(i) = open.take() {
                notes[i].2 = step - notes[i].1;
            }
        }
    }
    if let Some(i) = open {
        notes[i].2 = tokens.len() - notes[i].1;
    }
    notes
}

/// Features of one melody segment.
pub fn phrase_features(tokens: &[u16]) -> PhraseFeatures {
    let notes = melody_notes(tokens);
    let n = notes.len();
    let pitches: Vec<i32> = notes.iter().map(|&(p, _, _)| p as i32).collect();
    let (lo, hi) = (
        pitches.iter().copied().min().unwrap_or(0),
        pitches.iter().copied().max().unwrap_or(0),
    );
    let mean_abs_interval = if n >= 2 {
        pitches
            .windows(2)
            .map(|w| (w[1] - w[0]).abs() as f64)
            .sum::<f64>()
            / (n - 1) as f64
    } else {
        0.0
    };
    let mut class_count = [0usize; 12];
    for &p in &pitches {
        class_count[(p % 12) as usize] += 1;
    }
    const MAJOR: [usize; 7] = [0, 2, 4, 5, 7, 9, 11];
    let best_in_scale = (0..12)
        .map(|tonic| {
            MAJOR
                .iter()
                .map(|d| class_count[(tonic + d) % 12])
                .sum::<usize>()
        })
        .max()
        .unwrap_or(0);
    let sounding: usize = notes.iter().map(|&(_, _, len)| len).sum();
    let steps = tokens.len().max(1);
    PhraseFeatures {
        note_count: n as f64,
        pitch_range: if n >= 2 { (hi - lo) as f64 } else { 0.0 },
        mean_abs_interval,
        in_scale: if n > 0 {
            best_in_scale as f64 / n as f64
        } else {
            1.0
        },
        silent_steps: 1.0 - (sounding.min(steps) as f64 / steps as f64),
        mean_pitch: if n > 0 {
            pitches.iter().sum::<i32>() as f64 / n as f64
        } else {
            f64::NAN
        },
        pitch_classes: class_count.iter().filter(|&&c| c > 0).count() as f64,
        note_length: if n > 0 {
            sounding as f64 / n as f64
        } else {
            f64::NAN
        },
    }
}

/// Features of every 2-bar segment of every window (melody tokens).
pub fn segment_features(windows: &[&[u16]]) -> Vec<PhraseFeatures> {
    windows
        .iter()
        .flat_map(|w| w.chunks_exact(SEGMENT_STEPS).map(phrase_features))
        .collect()
}

/// Fraction of bars (from the second on) that repeat an earlier bar of the same window exactly,
/// over bars that hold at least one onset (melody tokens).
pub fn bar_repetition(windows: &[&[u16]]) -> f64 {
    repetition_of_bars(windows, |t| token_pitch(t).is_some())
}

/// [`bar_repetition`] over bars holding a token that `is_onset` accepts.
fn repetition_of_bars(windows: &[&[u16]], is_onset: impl Fn(u16) -> bool) -> f64 {
    let bar = STEPS_PER_BAR as usize;
    let (mut repeats, mut bars) = (0usize, 0usize);
    for w in windows {
        let all: Vec<&[u16]> = w.chunks_exact(bar).collect();
        for (i, b) in all.iter().enumerate().skip(1) {
            if !b.iter().any(|&t| is_onset(t)) {
                continue;
            }
            bars += 1;
            if all[..i].contains(b) {
                repeats += 1;
            }
        }
    }
    if bars == 0 {
        0.0
    } else {
        repeats as f64 / bars as f64
    }
}

/// Histogram bins for a feature: integer features get one bin per value over the pooled range
/// (at most 64 bins, then equal widths); fractions and means get 20 equal bins.
fn bins(values: &[f64]) -> (f64, f64, usize) {
    let lo = values.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !lo.is_finite() || !hi.is_finite() {
        return (0.0, 1.0, 1);
    }
    let integer = values.iter().all(|v| v.fract() == 0.0);
    if integer {
        let n = (hi - lo) as usize + 1;
        if n <= 64 {
            return (lo - 0.5, hi + 0.5, n);
        }
        return (lo, hi, 64);
    }
    if hi == lo {
        return (lo - 0.5, hi + 0.5, 1);
    }
    (lo, hi, 20)
}

fn histogram(values: &[f64], lo: f64, hi: f64, n: usize) -> Vec<f64> {
    let mut h = vec![0.0; n];
    let width = (hi - lo) / n as f64;
    for &v in values {
        let i = (((v - lo) / width).floor() as isize).clamp(0, n as isize - 1) as usize;
        h[i] += 1.0;
    }
    let total: f64 = h.iter().sum();
    if total > 0.0 {
        h.iter_mut().for_each(|x| *x /= total);
    }
    h
}

/// Overlapping area of the normalised histograms of two samples on shared bins (NaNs left out).
/// 1 when both are empty.
pub fn overlapping_area(a: &[f64], b: &[f64]) -> f64 {
    let a: Vec<f64> = a.iter().copied().filter(|v| v.is_finite()).collect();
    let b: Vec<f64> = b.iter().copied().filter(|v| v.is_finite()).collect();
    if a.is_empty() || b.is_empty() {
        return if a.is_empty() && b.is_empty() {
            1.0
        } else {
            0.0
        };
    }
    let pooled: Vec<f64> = a.iter().chain(&b).copied().collect();
    let (lo, hi, n) = bins(&pooled);
    let (ha, hb) = (histogram(&a, lo, hi, n), histogram(&b, lo, hi, n));
    ha.iter().zip(&hb).map(|(x, y)| x.min(*y)).sum()
}

/// One feature's row of the table.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureRow {
    pub feature: String,
    /// Mean over generated / real segments (NaNs left out).
    pub generated_mean: f64,
    pub real_mean: f64,
    /// Overlapping area generated vs real.
    pub overlap: f64,
    /// Overlapping area of two disjoint halves of the real segments (the ceiling).
    pub real_vs_real: f64,
}

/// The sample-quality table.
#[derive(Debug, Clone, Serialize)]
pub struct SampleQuality {
    pub generated_segments: usize,
    pub real_segments: usize,
    pub rows: Vec<FeatureRow>,
    /// Mean overlapping area over the features, generated vs real.
    pub mean_overlap: f64,
    /// The same for two halves of the real segments.
    pub mean_real_vs_real: f64,
    /// For windows longer than one bar: fraction of bars repeating an earlier bar.
    pub generated_bar_repetition: f64,
    pub real_bar_repetition: f64,
}

fn mean(v: &[f64]) -> f64 {
    let f: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if f.is_empty() {
        f64::NAN
    } else {
        f.iter().sum::<f64>() / f.len() as f64
    }
}

/// Compare generated melody windows with real ones. The real windows are split into two halves
/// by alternating index (they arrive in a seeded random order) for the ceiling.
pub fn compare(generated: &[&[u16]], real: &[&[u16]]) -> SampleQuality {
    let feats = |ws: &[&[u16]]| -> Vec<Vec<f64>> {
        segment_features(ws)
            .iter()
            .map(|p| p.values().to_vec())
            .collect()
    };
    compare_with(&FEATURE_NAMES, feats, bar_repetition, generated, real)
}

/// Compare generated drum windows (512-way tokens) with real ones, on [`DRUM_FEATURE_NAMES`].
pub fn compare_drums(generated: &[&[u16]], real: &[&[u16]]) -> SampleQuality {
    let feats = |ws: &[&[u16]]| -> Vec<Vec<f64>> {
        ws.iter()
            .flat_map(|w| {
                w.chunks_exact(SEGMENT_STEPS)
                    .map(|s| drum_features(s).to_vec())
            })
            .collect()
    };
    compare_with(
        &DRUM_FEATURE_NAMES,
        feats,
        drum_bar_repetition,
        generated,
        real,
    )
}

/// The table for any representation: `features` gives one row of values (in `names` order) per
/// 2-bar segment of the windows it is given, `repetition` the bar-repetition fraction.
fn compare_with(
    names: &[&str],
    features: impl Fn(&[&[u16]]) -> Vec<Vec<f64>>,
    repetition: impl Fn(&[&[u16]]) -> f64,
    generated: &[&[u16]],
    real: &[&[u16]],
) -> SampleQuality {
    let g = features(generated);
    let r = features(real);
    let half_a: Vec<&[u16]> = real.iter().step_by(2).copied().collect();
    let half_b: Vec<&[u16]> = real.iter().skip(1).step_by(2).copied().collect();
    let (ra, rb) = (features(&half_a), features(&half_b));
    let column = |f: &[Vec<f64>], k: usize| -> Vec<f64> { f.iter().map(|p| p[k]).collect() };
    let rows: Vec<FeatureRow> = names
        .iter()
        .enumerate()
        .map(|(k, name)| FeatureRow {
            feature: name.to_string(),
            generated_mean: mean(&column(&g, k)),
            real_mean: mean(&column(&r, k)),
            overlap: overlapping_area(&column(&g, k), &column(&r, k)),
            real_vs_real: overlapping_area(&column(&ra, k), &column(&rb, k)),
        })
        .collect();
    let n = rows.len() as f64;
    SampleQuality {
        generated_segments: g.len(),
        real_segments: r.len(),
        mean_overlap: rows.iter().map(|r| r.overlap).sum::<f64>() / n,
        mean_real_vs_real: rows.iter().map(|r| r.real_vs_real).sum::<f64>() / n,
        generated_bar_repetition: repetition(generated),
        real_bar_repetition: repetition(real),
        rows,
    }
}

/// Names of the drum features, in the order of [`drum_features`].
pub const DRUM_FEATURE_NAMES: [&str; 9] = [
    "hits per bar",
    "kick density",
    "snare density",
    "closed hi-hat density",
    "open hi-hat density",
    "tom density",
    "cymbal density",
    "hits off the beat",
    "kick-snare repeat",
];

/// Features of one 2-bar drum segment (512-way tokens: bit c = drum class c hit):
/// steps with a hit per bar; per class group the fraction of steps where it is hit (kick, snare,
/// closed hi-hat, open hi-hat, the three toms together, crash and ride together); the fraction of
/// hit steps that are not on a quarter-note beat (NaN without hits); and the fraction of the 16
/// steps of the second bar whose kick and snare equal the first bar's (the groove repeating).
pub fn drum_features(tokens: &[u16]) -> [f64; 9] {
    let steps = tokens.len().max(1) as f64;
    let bars = (tokens.len() as f64 / STEPS_PER_BAR as f64).max(1.0);
    let hit_steps: Vec<usize> = (0..tokens.len()).filter(|&i| tokens[i] != 0).collect();
    let density = |mask: u16| tokens.iter().filter(|&&t| t & mask != 0).count() as f64 / steps;
    let off_beat = if hit_steps.is_empty() {
        f64::NAN
    } else {
        hit_steps.iter().filter(|&&i| i % 4 != 0).count() as f64 / hit_steps.len() as f64
    };
    let bar = STEPS_PER_BAR as usize;
    let ks = 0b11u16; // kick (class 0) and snare (class 1)
    let repeat = if tokens.len() >= 2 * bar {
        (0..bar)
            .filter(|&i| tokens[i] & ks == tokens[bar + i] & ks)
            .count() as f64
            / bar as f64
    } else {
        f64::NAN
    };
    [
        hit_steps.len() as f64 / bars,
        density(1 << 0),
        density(1 << 1),
        density(1 << 2),
        density(1 << 3),
        density((1 << 4) | (1 << 5) | (1 << 6)),
        density((1 << 7) | (1 << 8)),
        off_beat,
        repeat,
    ]
}

/// Fraction of bars (from the second on) with a hit that repeat an earlier bar of the same window
/// exactly (drum tokens).
pub fn drum_bar_repetition(windows: &[&[u16]]) -> f64 {
    repetition_of_bars(windows, |t| t != 0)
}

/// How close windows come to the windows a model was trained on.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Nearest {
    /// Windows compared, and training windows searched.
    pub windows: usize,
    pub training_windows: usize,
    /// Mean over the windows of the largest fraction of steps shared with one training window.
    pub mean_agreement: f64,
    /// Share of windows equal to a training window step for step.
    pub copies: f64,
}

/// For every window, the training window it agrees with on most steps (token by token): the mean
/// of that agreement and the share of exact copies. Samples that copy the training data score
/// higher than real held-out windows do.
pub fn nearest_training(windows: &[&[u16]], training: &[&[u16]]) -> Nearest {
    use rayon::prelude::*;
    let best: Vec<f64> = windows
        .par_iter()
        .map(|w| {
            let mut top = 0usize;
            for t in training {
                let same = w.iter().zip(t.iter()).filter(|(a, b)| a == b).count();
                top = top.max(same);
                if top == w.len() {
                    break;
                }
            }
            top as f64 / w.len().max(1) as f64
        })
        .collect();
    let n = best.len().max(1) as f64;
    Nearest {
        windows: windows.len(),
        training_windows: training.len(),
        mean_agreement: best.iter().sum::<f64>() / n,
        copies: best.iter().filter(|b| **b >= 1.0).count() as f64 / n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::music::melody::pitch_token;

    /// A 2-bar phrase of quarter notes on the given pitches.
    fn quarters(pitches: &[u8]) -> Vec<u16> {
        let mut t = vec![NO_EVENT; SEGMENT_STEPS];
        for (i, &p) in pitches.iter().enumerate() {
            t[i * 4] = pitch_token(p);
        }
        t
    }

    #[test]
    fn features_of_a_c_major_scale() {
        // C4 D4 E4 F4 G4 A4 B4 C5, quarter notes: 8 notes over 32 steps, all sounding.
        let t = quarters(&[60, 62, 64, 65, 67, 69, 71, 72]);
        let f = phrase_features(&t);
        assert_eq!(f.note_count, 8.0);
        assert_eq!(f.pitch_range, 12.0);
        assert!((f.mean_abs_interval - 12.0 / 7.0).abs() < 1e-12);
        assert_eq!(f.in_scale, 1.0);
        assert_eq!(f.silent_steps, 0.0);
        assert!((f.mean_pitch - 530.0 / 8.0).abs() < 1e-12);
        assert_eq!(f.pitch_classes, 7.0);
        assert_eq!(f.note_length, 4.0);
    }

    #[test]
    fn note_offs_rests_and_chromatic_notes() {
        // C4 for 2 steps then off, rest, F#4 for the last 2 steps (G major holds both).
        let mut t = vec![NO_EVENT; SEGMENT_STEPS];
        t[0] = pitch_token(60);
        t[2] = NOTE_OFF;
        t[30] = pitch_token(66);
        let f = phrase_features(&t);
        assert_eq!(f.note_count, 2.0);
        assert_eq!(f.note_length, 2.0);
        assert_eq!(f.silent_steps, 28.0 / 32.0);
        assert_eq!(f.in_scale, 1.0);
        // C, C#, D: no major scale holds all three.
        let f = phrase_features(&quarters(&[60, 61, 62]));
        assert!((f.in_scale - 2.0 / 3.0).abs() < 1e-12);
        // An empty phrase: silent, no means.
        let f = phrase_features(&[NO_EVENT; SEGMENT_STEPS]);
        assert_eq!((f.note_count, f.silent_steps), (0.0, 1.0));
        assert!(f.mean_pitch.is_nan() && f.note_length.is_nan());
    }

    #[test]
    fn overlapping_area_bounds() {
        let a = [1.0, 2.0, 3.0, 4.0];
        assert!((overlapping_area(&a, &a) - 1.0).abs() < 1e-12);
        assert_eq!(overlapping_area(&[1.0, 1.0], &[9.0, 9.0]), 0.0);
        // Half of b's mass where a is: 0.5.
        assert!((overlapping_area(&[1.0, 1.0], &[1.0, 9.0]) - 0.5).abs() < 1e-12);
        // Fractions: 20 equal bins over the pooled range.
        let x: Vec<f64> = (0..100).map(|i| i as f64 / 100.0 + 0.001).collect();
        assert!((overlapping_area(&x, &x) - 1.0).abs() < 1e-12);
        assert!(overlapping_area(&[f64::NAN], &[1.0]) == 0.0);
    }

    #[test]
    fn compare_real_with_itself_and_with_noise() {
        let real: Vec<Vec<u16>> = (0..40)
            .map(|i| quarters(&[60 + (i % 5) as u8, 62, 64, 65, 67, 65, 64, 62]))
            .collect();
        let wild: Vec<Vec<u16>> = (0..40)
            .map(|i| quarters(&[30 + i as u8, 90, 35, 100, 21, 70, 99, 40]))
            .collect();
        let r: Vec<&[u16]> = real.iter().map(|w| w.as_slice()).collect();
        let w: Vec<&[u16]> = wild.iter().map(|w| w.as_slice()).collect();
        let same = compare(&r, &r);
        assert!((same.mean_overlap - 1.0).abs() < 1e-12);
        let bad = compare(&w, &r);
        assert!(bad.mean_overlap < 0.5, "{bad:?}");
        assert!(bad.mean_real_vs_real > 0.8, "{bad:?}");
        assert_eq!(bad.generated_segments, 40);
    }

    #[test]
    fn bar_repetition_counts_repeated_bars() {
        let bar = |p: u8| {
            let mut b = vec![NO_EVENT; 16];
            b[0] = pitch_token(p);
            b
        };
        // Bars: A B A A (empty bars are not counted): 2 of 3 later bars repeat.
        let w: Vec<u16> = [bar(60), bar(62), bar(60), bar(60)].concat();
        assert!((bar_repetition(&[&w]) - 2.0 / 3.0).abs() < 1e-12);
        let rest = vec![NO_EVENT; 16];
        let w: Vec<u16> = [bar(60), rest.clone(), rest].concat();
        assert_eq!(bar_repetition(&[&w]), 0.0);
    }

    #[test]
    fn drum_features_of_a_rock_beat() {
        // Kick on 1 and 3, snare on 2 and 4, closed hi-hat on every eighth, two identical bars.
        let mut t = vec![0u16; SEGMENT_STEPS];
        for (i, x) in t.iter_mut().enumerate() {
            let s = i % 16;
            if s % 2 == 0 {
                *x |= 1 << 2;
            }
            if s == 0 || s == 8 {
                *x |= 1;
            }
            if s == 4 || s == 12 {
                *x |= 1 << 1;
            }
        }
        let f = drum_features(&t);
        assert_eq!(f[0], 8.0, "8 hit steps per bar");
        assert_eq!(f[1], 4.0 / 32.0);
        assert_eq!(f[2], 4.0 / 32.0);
        assert_eq!(f[3], 16.0 / 32.0);
        assert_eq!((f[4], f[5], f[6]), (0.0, 0.0, 0.0));
        assert_eq!(f[7], 0.5, "the off-beat eighths");
        assert_eq!(f[8], 1.0, "kick and snare repeat");
        assert!(f[..7].iter().all(|v| v.is_finite()));
        let silent = drum_features(&[0u16; SEGMENT_STEPS]);
        assert!(silent[7].is_nan());
        assert_eq!(silent[0], 0.0);
        // Identical sets score the ceiling; a silent model scores low.
        let real: Vec<&[u16]> = vec![&t; 8];
        let q = compare_drums(&real, &real);
        assert!((q.mean_overlap - 1.0).abs() < 1e-12);
        assert_eq!(q.real_bar_repetition, 1.0);
        let sil = vec![0u16; SEGMENT_STEPS];
        let quiet: Vec<&[u16]> = vec![&sil; 8];
        assert!(compare_drums(&quiet, &real).mean_overlap < 0.5);
    }

    #[test]
    fn nearest_training_window_agreement() {
        let train: Vec<Vec<u16>> = vec![vec![1, 2, 3, 4], vec![5, 6, 7, 8]];
        let t: Vec<&[u16]> = train.iter().map(|w| w.as_slice()).collect();
        // A copy, a window sharing 3 of 4 steps with the first, one sharing 1 of 4 with the second.
        let ws: Vec<Vec<u16>> = vec![vec![5, 6, 7, 8], vec![1, 2, 3, 0], vec![0, 6, 0, 0]];
        let w: Vec<&[u16]> = ws.iter().map(|w| w.as_slice()).collect();
        let n = nearest_training(&w, &t);
        assert_eq!((n.windows, n.training_windows), (3, 2));
        assert!((n.mean_agreement - (1.0 + 0.75 + 0.25) / 3.0).abs() < 1e-12);
        assert!((n.copies - 1.0 / 3.0).abs() < 1e-12);
    }
}
