//! Attribute vectors (the paper's §5.3 practice, here for genres): for every label g,
//! v_g = mean(μ | g) − mean(μ | not g) over encoded windows. Adding A·v_g to a phrase's μ moves it
//! toward g; subtracting moves it away. Saved as `attributes.json` beside the model.

use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "musicvae-attributes/1";
pub const FILE_NAME: &str = "attributes.json";

/// One label's vector and how many windows it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributeVector {
    pub label: String,
    /// Windows with this label, and without it.
    pub count: usize,
    pub rest: usize,
    /// Euclidean norm of `vector`.
    pub norm: f64,
    pub vector: Vec<f32>,
}

/// The vectors of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attributes {
    pub format: String,
    pub model: String,
    /// "folders" (labels = first-level folder names) or "classifier".
    pub labels_from: String,
    pub classifier: Option<String>,
    pub data: String,
    pub windows: usize,
    pub vectors: Vec<AttributeVector>,
}

/// v_g = mean(μ | g) − mean(μ | not g) for every label that has windows on both sides.
/// `labels[i]` indexes `names`.
pub fn attribute_vectors(
    mus: &[Vec<f32>],
    labels: &[usize],
    names: &[String],
) -> Vec<AttributeVector> {
    let dim = mus.first().map(|m| m.len()).unwrap_or(0);
    let mut sums = vec![vec![0f64; dim]; names.len()];
    let mut counts = vec![0usize; names.len()];
    let mut total = vec![0f64; dim];
    for (mu, &l) in mus.iter().zip(labels) {
        for (k, v) in mu.iter().enumerate() {
            sums[l][k] += *v as f64;
            total[k] += *v as f64;
        }
        counts[l] += 1;
    }
    let n = mus.len();
    names
        .iter()
        .enumerate()
        .filter(|&(g, _)| counts[g] > 0 && counts[g] < n)
        .map(|(g, name)| {
            let rest = n - counts[g];
            let vector: Vec<f32> = (0..dim)
                .map(|k| {
                    (sums[g][k] / counts[g] as f64 - (total[k] - sums[g][k]) / rest as f64) as f32
                })
                .collect();
            let norm = vector
                .iter()
                .map(|x| (*x as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            AttributeVector {
                label: name.clone(),
                count: counts[g],
                rest,
                norm,
                vector,
            }
        })
        .collect()
}

/// μ + amount · v.
pub fn shift(mu: &[f32], v: &[f32], amount: f64) -> Vec<f32> {
    mu.iter()
        .zip(v)
        .map(|(m, d)| (*m as f64 + amount * *d as f64) as f32)
        .collect()
}

impl Attributes {
    pub fn path(model_dir: &Path) -> PathBuf {
        model_dir.join(FILE_NAME)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| Error::Invalid(e.to_string()))?;
        write_atomic(path, &json)
    }

    pub fn load(path: &Path) -> Result<Attributes> {
        let raw = std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::bad_input(path, "no attribute vectors here; compute them with `musicvae attributes --model DIR --data DIR`")
            } else {
                Error::io(path, e)
            }
        })?;
        let a: Attributes = serde_json::from_slice(&raw).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            reason: format!("not a {FORMAT} file: {e}"),
        })?;
        if a.format != FORMAT {
            return Err(Error::Json {
                path: path.to_path_buf(),
                reason: format!("format '{}' is not {FORMAT}", a.format),
            });
        }
        Ok(a)
    }

    /// The vector of `label`, or an error listing the labels there are.
    pub fn get(&self, label: &str) -> Result<&AttributeVector> {
        self.vectors
            .iter()
            .find(|v| v.label.eq_ignore_ascii_case(label))
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "no attribute vector for '{label}'; this model has: {}",
                    self.vectors
                        .iter()
                        .map(|v| v.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_difference_by_hand() {
        // Label 0: (1, 0), (3, 0) → mean (2, 0). Label 1: (0, 2) → mean (0, 2). Label 2: (0, -4).
        let mus = vec![
            vec![1.0, 0.0],
            vec![3.0, 0.0],
            vec![0.0, 2.0],
            vec![0.0, -4.0],
        ];
        let names: Vec<String> = ["a", "b", "c", "empty"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let v = attribute_vectors(&mus, &[0, 0, 1, 2], &names);
        assert_eq!(v.len(), 3, "a label without windows gets no vector");
        // v_a = (2, 0) − mean{(0, 2), (0, −4)} = (2, 0) − (0, −1) = (2, 1).
        assert_eq!(v[0].vector, vec![2.0, 1.0]);
        assert_eq!((v[0].count, v[0].rest), (2, 2));
        assert!((v[0].norm - 5f64.sqrt()).abs() < 1e-12);
        // v_b = (0, 2) − mean{(1,0), (3,0), (0,−4)} = (0, 2) − (4/3, −4/3) = (−4/3, 10/3).
        assert!(
            (v[1].vector[0] + 4.0 / 3.0).abs() < 1e-6 && (v[1].vector[1] - 10.0 / 3.0).abs() < 1e-6
        );
        // Moving toward and away.
        assert_eq!(shift(&[1.0, 1.0], &v[0].vector, 0.5), vec![2.0, 1.5]);
        assert_eq!(shift(&[1.0, 1.0], &v[0].vector, -1.0), vec![-1.0, 0.0]);
    }

    #[test]
    fn save_load_and_lookup() {
        let d = tempfile::tempdir().unwrap();
        let a = Attributes {
            format: FORMAT.into(),
            model: "m".into(),
            labels_from: "folders".into(),
            classifier: None,
            data: "midi_data".into(),
            windows: 3,
            vectors: vec![AttributeVector {
                label: "irish".into(),
                count: 1,
                rest: 2,
                norm: 1.0,
                vector: vec![1.0],
            }],
        };
        let p = Attributes::path(d.path());
        a.save(&p).unwrap();
        let b = Attributes::load(&p).unwrap();
        assert_eq!(a, b);
        assert!(b.get("IRISH").is_ok());
        assert!(b.get("jazz").unwrap_err().to_string().contains("irish"));
        assert!(Attributes::load(&d.path().join("nope.json"))
            .unwrap_err()
            .to_string()
            .contains("musicvae attributes"));
    }
}
