//! Attribute vectors (the paper's §5.3 practice, here for genres): for every label g,
//! v_g = mean(μ | g) − mean(μ | not g) over encoded windows. Adding A·v_g to a phrase's μ moves it
//! toward g; subtracting moves it away. Saved as `attributes.json` beside the model.
//!
//! [`Direction::Discriminant`] turns each mean difference d_g into the direction of a Gaussian
//! class model with one shared covariance (linear discriminant analysis): v_g ∝ C⁻¹ d_g with
//! C = the pooled within-label covariance of μ + diag(E[σ²]), scaled to |d_g|. Variation every
//! style has (how busy a hi-hat is) is what C is large along, so v_g spends less of its length
//! there and more on what sets g apart.

use crate::error::{Error, Result};
use crate::generate::latent_prior::{backward, cholesky_ridged, forward, scatter};
use crate::io_util::write_atomic;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "musicvae-attributes/1";
pub const FILE_NAME: &str = "attributes.json";

/// How a label's vector is derived from the encoded windows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// mean(μ | g) − mean(μ | not g) (Magenta's attribute vectors).
    #[default]
    Mean,
    /// The mean difference whitened by the within-label covariance (C⁻¹ d_g), scaled to the mean
    /// difference's length.
    Discriminant,
    /// A random direction with the mean difference's length (a control: how much of a vector's
    /// effect its length alone gives). Never the vectors a model folder keeps.
    Random,
}

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
    /// How the vectors were derived ("mean" in files written before the choice existed).
    #[serde(default)]
    pub direction: Direction,
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

/// [`Direction::Discriminant`] vectors: each of [`attribute_vectors`]' d_g replaced by C⁻¹ d_g
/// scaled to |d_g|, where C = Σ_i (μ_i − mean(μ | label_i))(…)ᵀ / n + diag(mean σ²) (pooled
/// within-label covariance of the codes plus the posterior's own spread, which keeps C
/// invertible along directions the encoder does not use).
pub fn discriminant_vectors(
    mus: &[Vec<f32>],
    sigmas: &[Vec<f32>],
    labels: &[usize],
    names: &[String],
) -> Result<Vec<AttributeVector>> {
    let mean = attribute_vectors(mus, labels, names);
    let dim = mus.first().map(|m| m.len()).unwrap_or(0);
    if dim == 0 || sigmas.len() != mus.len() {
        return Err(Error::Invalid(
            "discriminant attribute vectors need the μ and σ of every window".into(),
        ));
    }
    let mut sums = vec![vec![0f64; dim]; names.len()];
    let mut counts = vec![0usize; names.len()];
    for (mu, &l) in mus.iter().zip(labels) {
        sums[l]
            .iter_mut()
            .zip(mu)
            .for_each(|(s, &v)| *s += v as f64);
        counts[l] += 1;
    }
    let centred: Vec<Vec<f64>> = mus
        .iter()
        .zip(labels)
        .map(|(mu, &l)| {
            mu.iter()
                .zip(&sums[l])
                .map(|(&v, s)| v as f64 - s / counts[l] as f64)
                .collect()
        })
        .collect();
    let n = mus.len() as f64;
    let mut c = scatter(&centred, dim); // [dim, dim]
    c.iter_mut().for_each(|x| *x /= n);
    for k in 0..dim {
        let s2: f64 = sigmas.iter().map(|s| (s[k] as f64).powi(2)).sum::<f64>() / n;
        c[k * dim + k] += s2;
    }
    let l = cholesky_ridged(&c, dim)?;
    Ok(mean
        .into_iter()
        .map(|v| {
            let d: Vec<f64> = v.vector.iter().map(|&x| x as f64).collect();
            let w = backward(&l, &forward(&l, &d)); // C⁻¹ d
            let wn = w.iter().map(|x| x * x).sum::<f64>().sqrt();
            let scale = if wn > 0.0 { v.norm / wn } else { 0.0 };
            AttributeVector {
                vector: w.iter().map(|x| (x * scale) as f32).collect(),
                ..v
            }
        })
        .collect())
}

/// [`Direction::Random`] vectors: each vector replaced by a seeded Gaussian direction scaled to
/// the same length.
pub fn random_vectors(vectors: Vec<AttributeVector>, seed: u64) -> Vec<AttributeVector> {
    let mut rng = crate::rng::Rng::new(seed);
    vectors
        .into_iter()
        .map(|v| {
            let r = rng.normals(v.vector.len());
            let rn = r.iter().map(|&x| (x as f64).powi(2)).sum::<f64>().sqrt();
            let scale = if rn > 0.0 { v.norm / rn } else { 0.0 };
            AttributeVector {
                vector: r.iter().map(|&x| (x as f64 * scale) as f32).collect(),
                ..v
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
    fn discriminant_direction_by_hand() {
        // Two labels that differ along x by 2 and along y by 2, with a lot of within-label
        // spread along y (±3) and none along x: the discriminant leans toward x.
        let mut mus = Vec::new();
        let mut labels = Vec::new();
        for (l, (cx, cy)) in [(0usize, (1.0f32, 1.0f32)), (1, (-1.0, -1.0))] {
            for dy in [-3.0f32, 3.0] {
                mus.push(vec![cx, cy + dy]);
                labels.push(l);
            }
        }
        let sigmas = vec![vec![0.5f32, 0.5]; mus.len()];
        let names = vec!["a".to_string(), "b".to_string()];
        let mean = attribute_vectors(&mus, &labels, &names);
        let disc = discriminant_vectors(&mus, &sigmas, &labels, &names).unwrap();
        // d_a = (2, 2); C = diag(0, 9) + diag(0.25, 0.25) → C⁻¹ d ∝ (8, 2/9.25·…): x dominates.
        assert_eq!(mean[0].vector, vec![2.0, 2.0]);
        let v = &disc[0].vector;
        let expect: [f64; 2] = [2.0 / 0.25, 2.0 / 9.25];
        let en = (expect[0] * expect[0] + expect[1] * expect[1]).sqrt();
        let norm = 8f64.sqrt();
        for k in 0..2 {
            assert!((v[k] as f64 - expect[k] / en * norm).abs() < 1e-5, "{v:?}");
        }
        assert!(
            (disc[0].norm - norm).abs() < 1e-9,
            "scaled to the mean difference's length"
        );
        assert!(
            (disc[1].vector[0] + v[0]).abs() < 1e-5,
            "b's is a's reversed"
        );
        assert!(discriminant_vectors(&mus, &[], &labels, &names).is_err());
    }

    #[test]
    fn random_directions_keep_the_length() {
        let mean = attribute_vectors(
            &[
                vec![1.0, 0.0, 0.0],
                vec![-1.0, 0.0, 0.0],
                vec![3.0, 2.0, 0.0],
            ],
            &[0, 1, 1],
            &["a".to_string(), "b".to_string()],
        );
        let r = random_vectors(mean.clone(), 7);
        assert_eq!(r.len(), 2);
        for (m, v) in mean.iter().zip(&r) {
            let n = v
                .vector
                .iter()
                .map(|&x| (x as f64).powi(2))
                .sum::<f64>()
                .sqrt();
            assert!((n - m.norm).abs() < 1e-5, "{n} vs {}", m.norm);
            assert_eq!((v.label.as_str(), v.count), (m.label.as_str(), m.count));
        }
        // Not the mean difference, and repeatable.
        assert_ne!(r[0].vector, mean[0].vector);
        assert_eq!(r, random_vectors(mean, 7));
    }

    #[test]
    fn save_load_and_lookup() {
        let d = tempfile::tempdir().unwrap();
        let a = Attributes {
            format: FORMAT.into(),
            model: "m".into(),
            labels_from: "folders".into(),
            classifier: None,
            direction: Direction::Discriminant,
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
