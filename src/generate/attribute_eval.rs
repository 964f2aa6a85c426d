//! How well attribute vectors work (`musicvae eval-attributes`): for each genre g, the genre
//! classifier's mean probability of g on decoded phrases before and after moving their μ by ±A·v_g,
//! and how far the phrases moved (fraction of steps whose token changed; for drums also the
//! fraction of hits that changed).
//!
//! "Before" is the decoded μ (the reconstruction), not the input window, so that before and after
//! are both outputs of the same decoder and only the attribute shift differs.

use serde::{Deserialize, Serialize};

/// One genre's row of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeRow {
    pub label: String,
    /// Mean classifier probability of `label` over the evaluated windows.
    pub before: f64,
    pub toward: f64,
    pub away: f64,
    /// The same means over the windows whose own (folder) label is not `label`: moving a phrase
    /// of another genre toward this one.
    pub before_others: f64,
    pub toward_others: f64,
    /// The mean over the windows whose own label is `label` (None when it has none): how sure the
    /// classifier is of this genre on reconstructions of real phrases of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_own: Option<f64>,
    /// The rise of `before` (over all windows, as `toward − before` is measured) if every other
    /// genre's window became as sure a phrase of this genre as its own windows are:
    /// share of others × (before_own − before_others). None when the genre has no windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_conversion: Option<f64>,
    /// Mean fraction of steps that differ from the reconstruction after +A·v (and −A·v).
    pub changed_toward: f64,
    pub changed_away: f64,
    /// Drums: mean fraction of hits (drum class at a step) changed by +A·v (and −A·v): hits in
    /// one beat and not the other, over the hits in either ([`hits_changed`]). None for melodies.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits_changed_toward: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hits_changed_away: Option<f64>,
}

/// The fraction of hits that differ between two drum tracks of the same length, each step a
/// token whose bits are the drum classes hit (Magenta's drum encoding): hits in one and not the
/// other, over the hits in either (0 when neither has a hit).
pub fn hits_changed(a: &[u16], b: &[u16]) -> f64 {
    let (mut differ, mut either) = (0u32, 0u32);
    for (&x, &y) in a.iter().zip(b) {
        differ += (x ^ y).count_ones();
        either += (x | y).count_ones();
    }
    if either == 0 {
        0.0
    } else {
        differ as f64 / either as f64
    }
}

/// The whole evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeEvaluation {
    pub model: String,
    pub classifier: String,
    pub amount: f64,
    pub windows: usize,
    pub rows: Vec<AttributeRow>,
    /// Drums, with `--real-beats`: the real beats of each style as a yardstick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub real_beats: Option<RealBeatReference>,
}

impl AttributeEvaluation {
    /// Mean over genres of (toward − before), in probability points (0–1).
    pub fn mean_rise(&self) -> f64 {
        mean(self.rows.iter().map(|r| r.toward - r.before))
    }
    /// The mean rise a full conversion would give (mean of the rows' `full_conversion`, over
    /// genres with windows of their own), to compare with [`Self::mean_rise`]. None without such
    /// genres.
    pub fn full_conversion(&self) -> Option<f64> {
        let rises: Vec<f64> = self.rows.iter().filter_map(|r| r.full_conversion).collect();
        (!rises.is_empty()).then(|| mean(rises.into_iter()))
    }
    /// Mean over genres of (before − away).
    pub fn mean_fall(&self) -> f64 {
        mean(self.rows.iter().map(|r| r.before - r.away))
    }
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    if n == 0 {
        0.0
    } else {
        s / n as f64
    }
}

/// Accumulates one genre's row from per-window measurements.
#[derive(Debug, Clone, Default)]
pub struct RowAccumulator {
    n: usize,
    n_others: usize,
    before: f64,
    toward: f64,
    away: f64,
    before_others: f64,
    toward_others: f64,
    changed_toward: f64,
    changed_away: f64,
    hits: usize,
    hits_toward: f64,
    hits_away: f64,
}

/// What was measured for one window and one genre.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WindowMeasure {
    /// The window's own label is the genre being evaluated.
    pub same_genre: bool,
    pub p_before: f64,
    pub p_toward: f64,
    pub p_away: f64,
    pub changed_toward: f64,
    pub changed_away: f64,
    /// Drums: [`hits_changed`] after +A·v and −A·v.
    pub hits_changed: Option<(f64, f64)>,
}

impl RowAccumulator {
    pub fn add(&mut self, m: WindowMeasure) {
        self.n += 1;
        self.before += m.p_before;
        self.toward += m.p_toward;
        self.away += m.p_away;
        self.changed_toward += m.changed_toward;
        self.changed_away += m.changed_away;
        if let Some((toward, away)) = m.hits_changed {
            self.hits += 1;
            self.hits_toward += toward;
            self.hits_away += away;
        }
        if !m.same_genre {
            self.n_others += 1;
            self.before_others += m.p_before;
            self.toward_others += m.p_toward;
        }
    }

    pub fn finish(&self, label: &str) -> AttributeRow {
        let n = self.n.max(1) as f64;
        let no = self.n_others.max(1) as f64;
        let before_own = (self.n > self.n_others)
            .then(|| (self.before - self.before_others) / (self.n - self.n_others) as f64);
        AttributeRow {
            label: label.to_string(),
            before: self.before / n,
            toward: self.toward / n,
            away: self.away / n,
            before_others: self.before_others / no,
            before_own,
            full_conversion: before_own
                .map(|own| self.n_others as f64 / n * (own - self.before_others / no)),
            toward_others: self.toward_others / no,
            changed_toward: self.changed_toward / n,
            changed_away: self.changed_away / n,
            hits_changed_toward: (self.hits > 0).then(|| self.hits_toward / self.hits as f64),
            hits_changed_away: (self.hits > 0).then(|| self.hits_away / self.hits as f64),
        }
    }
}

/// A real beat of a style as the yardstick for moving a beat toward that style (drums): among the
/// style's real windows (of other files), the one nearest the beat (fewest hits changed, [`hits_changed`]), and
/// the one the judge rates most that style among those within a hit budget. The second is an
/// upper bound, found by asking the judge, for any method that turns the beat into a real beat of
/// the style while changing at most that share of its hits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RealBeatMeasure {
    /// Hits changed to reach the nearest real beat of the style, and the judge's P(style) of it.
    pub nearest_hits: f64,
    pub nearest_p: f64,
    /// The highest P(style) among the style's real beats within the budget; None when none is.
    pub best_within: Option<f64>,
}

/// [`RealBeatMeasure`] of `beat` against `candidates`: (drum track, the judge's P(style)) of the
/// style's real windows. None without candidates.
pub fn real_beat_reference(
    beat: &[u16],
    candidates: &[(&[u16], f64)],
    budget: f64,
) -> Option<RealBeatMeasure> {
    let mut nearest: Option<(f64, f64)> = None; // (hits changed, P)
    let mut best_within: Option<f64> = None;
    for &(track, p) in candidates {
        let h = hits_changed(beat, track);
        // Ties go to the likelier beat, so the result does not depend on the candidates' order.
        if nearest.is_none_or(|(nh, np)| h < nh || (h == nh && p > np)) {
            nearest = Some((h, p));
        }
        if h <= budget && best_within.is_none_or(|b| p > b) {
            best_within = Some(p);
        }
    }
    nearest.map(|(nearest_hits, nearest_p)| RealBeatMeasure {
        nearest_hits,
        nearest_p,
        best_within,
    })
}

/// One style's row of the real-beat reference: means over the evaluated windows (all of them, as
/// [`AttributeEvaluation::mean_rise`] averages).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealBeatRow {
    pub label: String,
    /// Hits changed to reach the nearest real beat of the style.
    pub nearest_hits: f64,
    /// Rise of P(style) from the reconstruction to that nearest real beat.
    pub nearest_rise: f64,
    /// Rise to the real beat the judge rates most this style within the budget (0 for a window
    /// with none within it: the beat stays as it is).
    pub best_within_rise: f64,
    /// Share of windows with at least one real beat of the style within the budget.
    pub within_share: f64,
}

/// The real-beat reference of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RealBeatReference {
    /// Where the real beats come from: "held-out" or "training" windows.
    pub pool: String,
    /// The hit budget (fraction of hits) of `best_within_rise`.
    pub budget: f64,
    /// Windows the candidates come from.
    pub candidates: usize,
    pub rows: Vec<RealBeatRow>,
}

impl RealBeatReference {
    /// Means over styles of the rows' nearest rise, nearest hits and best-within-budget rise.
    pub fn mean_nearest_rise(&self) -> f64 {
        mean(self.rows.iter().map(|r| r.nearest_rise))
    }
    pub fn mean_nearest_hits(&self) -> f64 {
        mean(self.rows.iter().map(|r| r.nearest_hits))
    }
    pub fn mean_best_within_rise(&self) -> f64 {
        mean(self.rows.iter().map(|r| r.best_within_rise))
    }
}

/// Accumulates one style's [`RealBeatRow`].
#[derive(Debug, Clone, Default)]
pub struct RealBeatAccumulator {
    n: usize,
    nearest_hits: f64,
    nearest_rise: f64,
    best_within_rise: f64,
    within: usize,
}

impl RealBeatAccumulator {
    /// One window: the judge's P(style) of its reconstruction, and its measure.
    pub fn add(&mut self, p_before: f64, m: RealBeatMeasure) {
        self.n += 1;
        self.nearest_hits += m.nearest_hits;
        self.nearest_rise += m.nearest_p - p_before;
        if let Some(b) = m.best_within {
            self.within += 1;
            // Staying as it is (rise 0) is always within the budget.
            self.best_within_rise += (b - p_before).max(0.0);
        }
    }

    pub fn finish(&self, label: &str) -> RealBeatRow {
        let n = self.n.max(1) as f64;
        RealBeatRow {
            label: label.to_string(),
            nearest_hits: self.nearest_hits / n,
            nearest_rise: self.nearest_rise / n,
            best_within_rise: self.best_within_rise / n,
            within_share: self.within as f64 / n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_average_and_split_own_genre_from_others() {
        let mut acc = RowAccumulator::default();
        acc.add(WindowMeasure {
            same_genre: true,
            p_before: 0.8,
            p_toward: 1.0,
            p_away: 0.2,
            changed_toward: 0.1,
            changed_away: 0.5,
            hits_changed: None,
        });
        acc.add(WindowMeasure {
            same_genre: false,
            p_before: 0.0,
            p_toward: 0.6,
            p_away: 0.0,
            changed_toward: 0.3,
            changed_away: 0.1,
            hits_changed: None,
        });
        let r = acc.finish("irish");
        assert!((r.before - 0.4).abs() < 1e-12);
        assert!((r.toward - 0.8).abs() < 1e-12);
        assert!((r.away - 0.1).abs() < 1e-12);
        assert!((r.before_others - 0.0).abs() < 1e-12);
        assert!((r.before_own.unwrap() - 0.8).abs() < 1e-12);
        assert!((r.toward_others - 0.6).abs() < 1e-12);
        assert!((r.changed_toward - 0.2).abs() < 1e-12);
        assert!((r.changed_away - 0.3).abs() < 1e-12);
        assert_eq!(r.hits_changed_toward, None);
        let e = AttributeEvaluation {
            model: "m".into(),
            classifier: "c".into(),
            amount: 1.0,
            windows: 2,
            rows: vec![
                r.clone(),
                AttributeRow {
                    toward: r.before,
                    away: r.before,
                    ..r
                },
            ],
            real_beats: None,
        };
        assert!((e.mean_rise() - 0.2).abs() < 1e-12);
        assert!((e.mean_fall() - 0.15).abs() < 1e-12);
        // Both rows: own 0.8, others 0.0 → a full conversion would add 80 points.
        // Half the windows are another genre's (P 0.0), own windows 0.8: turning those into
        // phrases of this genre would add 0.5 × 0.8 = 40 points over all windows.
        assert!((r.full_conversion.unwrap() - 0.4).abs() < 1e-12);
        assert!((e.full_conversion().unwrap() - 0.4).abs() < 1e-12);
    }

    #[test]
    fn hits_changed_counts_hits_not_steps() {
        // Kick (bit 0) and snare (bit 1) on step 0, rests, a hi-hat (bit 2) on step 3.
        let a = [0b011, 0, 0, 0b100];
        assert_eq!(hits_changed(&a, &a), 0.0);
        // The snare dropped: 1 of 3 hits differs (a step-wise measure would say 1 of 4 steps).
        assert!((hits_changed(&a, &[0b001, 0, 0, 0b100]) - 1.0 / 3.0).abs() < 1e-12);
        // A new hit on a rest step, and one moved: 3 hits differ of the 5 in either.
        assert!((hits_changed(&a, &[0b011, 0b1000, 0, 0b010]) - 3.0 / 5.0).abs() < 1e-12);
        assert_eq!(hits_changed(&[0, 0], &[0, 0]), 0.0);
        // Averaged per window; rows without drum measures carry none.
        let mut acc = RowAccumulator::default();
        for h in [0.2, 0.4] {
            acc.add(WindowMeasure {
                same_genre: true,
                p_before: 0.5,
                p_toward: 0.5,
                p_away: 0.5,
                changed_toward: 0.0,
                changed_away: 0.0,
                hits_changed: Some((h, 2.0 * h)),
            });
        }
        let r = acc.finish("funk");
        assert!((r.hits_changed_toward.unwrap() - 0.3).abs() < 1e-12);
        assert!((r.hits_changed_away.unwrap() - 0.6).abs() < 1e-12);
    }

    #[test]
    fn real_beats_nearest_and_best_within_budget() {
        let beat: [u16; 4] = [0b011, 0, 0b001, 0b100]; // 4 hits
        let near: [u16; 4] = [0b011, 0, 0b001, 0]; // 1 of 4 hits differs
        let mid: [u16; 4] = [0b011, 0b100, 0, 0b100]; // 2 of 5
        let far: [u16; 4] = [0b100, 0b100, 0b100, 0b100]; // 6 of 7
        let cands: Vec<(&[u16], f64)> = vec![(&far, 0.9), (&mid, 0.6), (&near, 0.2)];
        let m = real_beat_reference(&beat, &cands, 0.4).unwrap();
        assert!((m.nearest_hits - 0.25).abs() < 1e-12);
        assert_eq!(m.nearest_p, 0.2);
        // `far` is likelier but beyond the budget; `mid` (0.4) is within it.
        assert_eq!(m.best_within, Some(0.6));
        assert_eq!(
            real_beat_reference(&beat, &cands, 0.1).unwrap().best_within,
            None
        );
        assert_eq!(real_beat_reference(&beat, &[], 0.4), None);

        let mut acc = RealBeatAccumulator::default();
        acc.add(0.3, m);
        // No beat within the budget: that window keeps its probability (rise 0).
        acc.add(
            0.5,
            RealBeatMeasure {
                nearest_hits: 0.75,
                nearest_p: 0.1,
                best_within: None,
            },
        );
        // A real beat within the budget that the judge likes less than the beat: stay (0).
        acc.add(
            0.5,
            RealBeatMeasure {
                nearest_hits: 0.5,
                nearest_p: 0.4,
                best_within: Some(0.4),
            },
        );
        let r = acc.finish("funk");
        assert!((r.nearest_hits - 0.5).abs() < 1e-12);
        assert!((r.nearest_rise - (-0.1 - 0.4 - 0.1) / 3.0).abs() < 1e-12);
        assert!((r.best_within_rise - 0.3 / 3.0).abs() < 1e-12);
        assert!((r.within_share - 2.0 / 3.0).abs() < 1e-12);
        let reference = RealBeatReference {
            pool: "held-out".into(),
            budget: 0.4,
            candidates: 3,
            rows: vec![
                r.clone(),
                RealBeatRow {
                    best_within_rise: 0.3,
                    ..r
                },
            ],
        };
        assert!((reference.mean_best_within_rise() - 0.2).abs() < 1e-12);
    }
}
