//! How well attribute vectors work (`musicvae eval-attributes`): for each genre g, the genre
//! classifier's mean probability of g on decoded phrases before and after moving their μ by ±A·v_g,
//! and how far the phrases moved (fraction of steps whose token changed).
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
    /// Mean fraction of steps that differ from the reconstruction after +A·v (and −A·v).
    pub changed_toward: f64,
    pub changed_away: f64,
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
}

impl RowAccumulator {
    pub fn add(&mut self, m: WindowMeasure) {
        self.n += 1;
        self.before += m.p_before;
        self.toward += m.p_toward;
        self.away += m.p_away;
        self.changed_toward += m.changed_toward;
        self.changed_away += m.changed_away;
        if !m.same_genre {
            self.n_others += 1;
            self.before_others += m.p_before;
            self.toward_others += m.p_toward;
        }
    }

    pub fn finish(&self, label: &str) -> AttributeRow {
        let n = self.n.max(1) as f64;
        let no = self.n_others.max(1) as f64;
        AttributeRow {
            label: label.to_string(),
            before: self.before / n,
            toward: self.toward / n,
            away: self.away / n,
            before_others: self.before_others / no,
            toward_others: self.toward_others / no,
            changed_toward: self.changed_toward / n,
            changed_away: self.changed_away / n,
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
        });
        acc.add(WindowMeasure {
            same_genre: false,
            p_before: 0.0,
            p_toward: 0.6,
            p_away: 0.0,
            changed_toward: 0.3,
            changed_away: 0.1,
        });
        let r = acc.finish("irish");
        assert!((r.before - 0.4).abs() < 1e-12);
        assert!((r.toward - 0.8).abs() < 1e-12);
        assert!((r.away - 0.1).abs() < 1e-12);
        assert!((r.before_others - 0.0).abs() < 1e-12);
        assert!((r.toward_others - 0.6).abs() < 1e-12);
        assert!((r.changed_toward - 0.2).abs() < 1e-12);
        assert!((r.changed_away - 0.3).abs() < 1e-12);
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
    }
}
