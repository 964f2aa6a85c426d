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
}
