//! Evaluation: log-probabilities of windows, file-level aggregation (mean log-probability over a
//! file's windows), accuracies and confusion matrices.

use super::config::ClassifierConfig;
use super::data::ClassifierData;
use super::model::ClassifierNet;
use super::pianoroll::{batch_tensor, RollSpec};
use crate::data::converter::Window;
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// Windows per forward pass when evaluating.
pub const EVAL_BATCH: usize = 256;

/// Log-probabilities (natural log) of every window, `[windows][labels]`. Run it on an inner
/// (non-autodiff) backend: BatchNorm then uses its running statistics and dropout is off.
pub fn log_probs<B: Backend>(
    net: &ClassifierNet<B>,
    spec: &RollSpec,
    windows: &[&Window],
    device: &B::Device,
) -> Vec<Vec<f32>> {
    let mut out = Vec::with_capacity(windows.len());
    for chunk in windows.chunks(EVAL_BATCH) {
        let x = batch_tensor::<B>(chunk, &[], spec, device); // [n, C, P, T]
        let lp = log_softmax(net.forward(x), 1); // [n, K]
        let k = lp.dims()[1];
        let v: Vec<f32> = lp.into_data().convert::<f32>().to_vec().unwrap_or_default();
        out.extend(v.chunks(k.max(1)).map(|r| r.to_vec()));
    }
    out
}

/// File-level distribution from window log-probabilities: softmax of the mean log-probability
/// (a normalised geometric mean of the window probabilities). Empty input → empty output.
pub fn aggregate(log_probs: &[Vec<f32>]) -> Vec<f32> {
    let Some(k) = log_probs.first().map(|r| r.len()) else {
        return Vec::new();
    };
    let n = log_probs.len() as f64;
    let mean: Vec<f64> = (0..k)
        .map(|j| log_probs.iter().map(|r| r[j] as f64).sum::<f64>() / n)
        .collect();
    let m = mean.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = mean.iter().map(|v| (v - m).exp()).collect();
    let s: f64 = e.iter().sum();
    e.iter().map(|v| (v / s) as f32).collect()
}

/// Index of the largest value (first on ties).
pub fn argmax(v: &[f32]) -> usize {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] {
            best = i;
        }
    }
    best
}

/// Fraction of the diagonal.
pub fn accuracy(confusion: &[Vec<usize>]) -> f64 {
    let total: usize = confusion.iter().flatten().sum();
    let right: usize = (0..confusion.len()).map(|i| confusion[i][i]).sum();
    if total == 0 {
        0.0
    } else {
        right as f64 / total as f64
    }
}

/// Mean per-class recall over the classes that occur.
pub fn balanced_accuracy(confusion: &[Vec<usize>]) -> f64 {
    let recalls: Vec<f64> = confusion
        .iter()
        .enumerate()
        .filter_map(|(i, row)| {
            let n: usize = row.iter().sum();
            (n > 0).then(|| row[i] as f64 / n as f64)
        })
        .collect();
    if recalls.is_empty() {
        0.0
    } else {
        recalls.iter().sum::<f64>() / recalls.len() as f64
    }
}

/// Held-out (or training) accuracy at window and file level, with confusion matrices
/// `[true][predicted]`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    pub labels: Vec<String>,
    pub windows: usize,
    pub files: usize,
    pub window_accuracy: f64,
    pub window_balanced_accuracy: f64,
    pub file_accuracy: f64,
    pub file_balanced_accuracy: f64,
    /// Mean negative log-likelihood of the true label per window (nats).
    pub loss: f64,
    pub window_confusion: Vec<Vec<usize>>,
    pub file_confusion: Vec<Vec<usize>>,
}

/// Evaluate `files` (indices into `data.files`), at most `max_per_file` windows each (0 = all).
pub fn evaluate<B: Backend>(
    net: &ClassifierNet<B>,
    cfg: &ClassifierConfig,
    data: &ClassifierData,
    files: &[usize],
    max_per_file: usize,
    device: &B::Device,
) -> Evaluation {
    let k = data.labels.len();
    let spec = RollSpec::of(cfg);
    let mut wconf = vec![vec![0usize; k]; k];
    let mut fconf = vec![vec![0usize; k]; k];
    let mut nll = 0.0;
    let mut nwin = 0;
    // Batch windows across files so small files do not mean small forward passes.
    let per_file: Vec<Vec<usize>> = files
        .iter()
        .map(|&f| data.file_windows(f, max_per_file))
        .collect();
    let all: Vec<&Window> = per_file
        .iter()
        .flatten()
        .map(|&w| &data.windows[w])
        .collect();
    let lp = log_probs(net, &spec, &all, device);
    let mut at = 0;
    for (fi, &f) in files.iter().enumerate() {
        let n = per_file[fi].len();
        let rows = &lp[at..at + n];
        at += n;
        let truth = data.files[f].label;
        for r in rows {
            wconf[truth][argmax(r)] += 1;
            nll -= r[truth] as f64;
            nwin += 1;
        }
        if n > 0 {
            fconf[truth][argmax(&aggregate(rows))] += 1;
        }
    }
    Evaluation {
        labels: data.labels.clone(),
        windows: nwin,
        files: files.len(),
        window_accuracy: accuracy(&wconf),
        window_balanced_accuracy: balanced_accuracy(&wconf),
        file_accuracy: accuracy(&fconf),
        file_balanced_accuracy: balanced_accuracy(&fconf),
        loss: if nwin > 0 { nll / nwin as f64 } else { 0.0 },
        window_confusion: wconf,
        file_confusion: fconf,
    }
}

/// A confusion matrix as a text table (rows = true label, columns = predicted), with per-row recall.
pub fn confusion_table(labels: &[String], counts: &[Vec<usize>]) -> String {
    let short: Vec<String> = labels.iter().map(|l| l.chars().take(9).collect()).collect();
    let w = labels.iter().map(|l| l.len()).max().unwrap_or(4).max(10);
    let mut s = format!("{:<w$}", "true \\ pred");
    for l in &short {
        s.push_str(&format!(" {l:>9}"));
    }
    s.push_str("    recall\n");
    for (i, row) in counts.iter().enumerate() {
        s.push_str(&format!("{:<w$}", labels[i]));
        for v in row {
            s.push_str(&format!(" {v:>9}"));
        }
        let n: usize = row.iter().sum();
        let r = if n > 0 { row[i] as f64 / n as f64 } else { 0.0 };
        s.push_str(&format!("  {:>7.1}%\n", 100.0 * r));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregate_is_normalised_geometric_mean() {
        let lp = vec![
            vec![0.5f32.ln(), 0.5f32.ln()],
            vec![0.9f32.ln(), 0.1f32.ln()],
        ];
        let p = aggregate(&lp);
        let a = (0.5f64 * 0.9).sqrt();
        let b = (0.5f64 * 0.1).sqrt();
        assert!((p[0] as f64 - a / (a + b)).abs() < 1e-6);
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(aggregate(&[]).is_empty());
        assert_eq!(argmax(&p), 0);
    }

    #[test]
    fn accuracies() {
        let c = vec![vec![8, 2], vec![0, 90]];
        assert!((accuracy(&c) - 0.98).abs() < 1e-12);
        assert!((balanced_accuracy(&c) - 0.9).abs() < 1e-12);
        let t = confusion_table(&["a".into(), "b".into()], &c);
        assert!(t.contains("80.0%") && t.contains("100.0%"), "{t}");
    }
}
