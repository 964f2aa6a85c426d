//! A fitted latent prior: a density fitted to the model's *aggregate posterior*
//! q(z) = mean over training windows x of N(μ(x), σ(x)²), which `sample` draws from instead of
//! N(0, I).
//!
//! A VAE trained with free bits and β < 1 (every MusicVAE config) does not make q(z) equal to
//! N(0, I): directions are correlated, some carry more than the prior says and others less, and
//! the codes of different grooves or genres gather in different places. Decoding z ~ N(0, I) then
//! visits regions no training window was encoded to, where the decoder's output is less like the
//! data. Sampling from a density fitted to the encoded training set ("ex-post density
//! estimation", Ghosh et al., ICLR 2020, "From variational to deterministic autoencoders") keeps
//! samples where the decoder was trained.
//!
//! The density is a mixture of K Gaussians with one shared (tied) covariance, fitted to the μ of
//! the training windows by EM; every component's covariance is that within-component covariance
//! plus diag(E[σ²]), so that K = 1 is exactly the Gaussian with q(z)'s mean and covariance
//! (E[μ], Cov(μ) + diag(E[σ²])). The shared covariance keeps the file small (one Cholesky factor)
//! and the fit stable with few windows per component. Saved as `latent_prior.json` beside the
//! model.

use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use crate::rng::Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "musicvae-latent-prior/1";
pub const FILE_NAME: &str = "latent_prior.json";

/// Most EM iterations of a fit.
pub const MAX_ITERATIONS: usize = 200;
/// EM stops when the mean log-likelihood per window rises by less than this.
const TOLERANCE: f64 = 1e-4;

/// The fitted mixture of one model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatentPrior {
    pub format: String,
    /// The model's config name.
    pub model: String,
    /// The data it was fitted on, and how many training-split windows.
    pub data: String,
    pub windows: usize,
    /// Mixture weights (sum 1), [K].
    pub weights: Vec<f64>,
    /// Component means, [K][z].
    pub means: Vec<Vec<f32>>,
    /// Lower-triangular Cholesky factor L of the components' shared covariance (C = L Lᵀ), packed
    /// by rows: row i holds its i + 1 entries L[i][0..=i].
    pub cholesky: Vec<f32>,
    /// Spread of the draws: z = means[c] + scale · L ε. 1 draws from the fitted density itself;
    /// below 1 draws nearer each component's centre, trading novelty (samples closer to training
    /// windows) for typicality (see `fit-prior --scale`). Files written before it existed read 1.
    #[serde(default = "unit_scale")]
    pub scale: f64,
    /// Summary of the fit (printed by `fit-prior`, kept for the record).
    pub summary: PriorSummary,
}

fn unit_scale() -> f64 {
    1.0
}

/// ", scale S" for a fit drawn at a scale other than 1 (how `sample` and `eval` name it), else "".
pub fn scale_note(scale: f64) -> String {
    if scale == 1.0 {
        String::new()
    } else {
        format!(", scale {scale}")
    }
}

/// How far the aggregate posterior is from N(0, I), and how the mixture was fitted.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PriorSummary {
    /// trace(Cov(μ) + diag(E[σ²])) / z: 1 for N(0, I).
    pub mean_variance: f64,
    /// Mean over dimensions of Var(μ_k) and of E[σ_k²].
    pub mean_mu_variance: f64,
    pub mean_sigma_squared: f64,
    /// Dimensions whose total variance is below 0.1 (hardly used by the encoder) and above 2.
    pub low_variance_dims: usize,
    pub high_variance_dims: usize,
    /// |E[μ]|.
    pub mean_norm: f64,
    /// Mixture components, EM iterations, and the mean log-likelihood of the training μ under the
    /// mixture of the μ (nats per window, before diag(E[σ²]) is added).
    pub components: usize,
    pub iterations: usize,
    pub log_likelihood: f64,
    /// Mean variance per dimension of the components' shared covariance, diag(E[σ²]) included.
    pub component_variance: f64,
}

/// Mean, covariance (row-major, n − 1 denominator) of `mus`, and the mean of `sigmas²` per
/// dimension. Cov(μ) + diag(E[σ²]) is the covariance of the aggregate posterior.
pub fn moments(mus: &[Vec<f32>], sigmas: &[Vec<f32>]) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
    let n = mus.len();
    if n < 2 || sigmas.len() != n {
        return Err(Error::Invalid(format!(
            "fitting a latent prior needs at least two encoded windows, got {n}"
        )));
    }
    let d = mus[0].len();
    if d == 0 || mus.iter().chain(sigmas).any(|v| v.len() != d) {
        return Err(Error::Invalid(
            "latent vectors of different sizes cannot be fitted together".into(),
        ));
    }
    if mus.iter().chain(sigmas).flatten().any(|x| !x.is_finite()) {
        return Err(Error::Invalid(
            "an encoded window has a non-finite μ or σ".into(),
        ));
    }
    let mut mean = vec![0f64; d];
    for mu in mus {
        for (m, v) in mean.iter_mut().zip(mu) {
            *m += *v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let centred: Vec<Vec<f64>> = mus
        .iter()
        .map(|mu| mu.iter().zip(&mean).map(|(v, m)| *v as f64 - m).collect())
        .collect();
    let mut cov = scatter(&centred, d);
    cov.iter_mut().for_each(|c| *c /= (n - 1) as f64);
    let mut sigma2 = vec![0f64; d];
    for s in sigmas {
        for (acc, v) in sigma2.iter_mut().zip(s) {
            *acc += (*v as f64).powi(2) / n as f64;
        }
    }
    Ok((mean, cov, sigma2))
}

/// Σ x xᵀ over the rows (row-major d × d, both triangles filled).
pub(crate) fn scatter(rows: &[Vec<f64>], d: usize) -> Vec<f64> {
    let parts: Vec<Vec<f64>> = rows
        .par_chunks(512)
        .map(|chunk| {
            let mut acc = vec![0f64; d * d];
            for x in chunk {
                for i in 0..d {
                    let xi = x[i];
                    for (a, xj) in acc[i * d..i * d + i + 1].iter_mut().zip(x) {
                        *a += xi * xj;
                    }
                }
            }
            acc
        })
        .collect();
    let mut s = vec![0f64; d * d];
    for p in parts {
        s.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    for i in 0..d {
        for j in 0..i {
            s[j * d + i] = s[i * d + j];
        }
    }
    s
}

/// Cholesky factor (packed lower triangle) of a symmetric `d × d` matrix, or `None` if it is not
/// positive definite.
pub fn cholesky(a: &[f64], d: usize) -> Option<Vec<f64>> {
    let mut l = vec![0f64; d * d];
    for i in 0..d {
        for j in 0..=i {
            let dot: f64 = (0..j).map(|k| l[i * d + k] * l[j * d + k]).sum();
            let v = a[i * d + j] - dot;
            if i == j {
                if !(v > 0.0 && v.is_finite()) {
                    return None;
                }
                l[i * d + i] = v.sqrt();
            } else {
                l[i * d + j] = v / l[j * d + j];
            }
        }
    }
    Some((0..d).flat_map(|i| l[i * d..=i * d + i].to_vec()).collect())
}

/// Solve L y = x for a packed lower-triangular L.
pub(crate) fn forward(l: &[f64], x: &[f64]) -> Vec<f64> {
    let d = x.len();
    let mut y = vec![0f64; d];
    let mut at = 0;
    for i in 0..d {
        let row = &l[at..at + i + 1];
        let dot: f64 = row[..i].iter().zip(&y[..i]).map(|(a, b)| a * b).sum();
        y[i] = (x[i] - dot) / row[i];
        at += i + 1;
    }
    y
}

/// Solves Lᵀ x = y for the packed lower-triangular Cholesky factor `l` (back substitution).
pub(crate) fn backward(l: &[f64], y: &[f64]) -> Vec<f64> {
    let d = y.len();
    // Row k of the packed L starts at k(k+1)/2; row i of Lᵀ holds L[k][i] for k ≥ i.
    let start = |i: usize| i * (i + 1) / 2;
    let mut x = vec![0f64; d];
    for i in (0..d).rev() {
        let dot: f64 = (i + 1..d).map(|k| l[start(k) + i] * x[k]).sum();
        x[i] = (y[i] - dot) / l[start(i) + i];
    }
    x
}

/// Cholesky of `cov` + ridge·I with the smallest ridge (0, then from 1e-6 of the mean variance
/// up) that makes it positive definite.
pub(crate) fn cholesky_ridged(cov: &[f64], d: usize) -> Result<Vec<f64>> {
    let scale = ((0..d).map(|k| cov[k * d + k]).sum::<f64>() / d as f64).max(1e-12);
    let mut ridge = 0.0;
    loop {
        let mut c = cov.to_vec();
        for k in 0..d {
            c[k * d + k] += ridge;
        }
        if let Some(l) = cholesky(&c, d) {
            return Ok(l);
        }
        ridge = if ridge == 0.0 {
            1e-6 * scale
        } else {
            ridge * 10.0
        };
        if ridge > scale {
            return Err(Error::Invalid(
                "the latent covariance is not positive definite even with a ridge".into(),
            ));
        }
    }
}

/// A mixture fitted by [`em_tied`].
struct EmFit {
    weights: Vec<f64>,
    means: Vec<Vec<f64>>,
    /// The shared covariance, row-major.
    cov: Vec<f64>,
    iterations: usize,
    /// Mean log-likelihood per row at the last E-step.
    log_likelihood: f64,
}

/// EM for a mixture of `k` Gaussians with one shared covariance over the rows of `x`.
fn em_tied(
    x: &[Vec<f64>],
    k: usize,
    global_cov: &[f64],
    rng: &mut Rng,
    progress: &mut dyn FnMut(usize, f64),
) -> Result<EmFit> {
    let n = x.len();
    let d = x[0].len();
    let sq = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(p, q)| (p - q).powi(2)).sum::<f64>();
    // k-means++ seeding: each next mean is a window drawn with probability ∝ squared distance to
    // the nearest mean so far.
    let mut means: Vec<Vec<f64>> = vec![x[rng.below(n)].clone()];
    let mut nearest: Vec<f64> = x.iter().map(|xi| sq(xi, &means[0])).collect();
    while means.len() < k {
        let total: f64 = nearest.iter().sum();
        let mut u = rng.uniform() * total;
        let mut pick = n - 1;
        for (i, w) in nearest.iter().enumerate() {
            if u < *w {
                pick = i;
                break;
            }
            u -= w;
        }
        means.push(x[pick].clone());
        for (nd, xi) in nearest.iter_mut().zip(x) {
            *nd = nd.min(sq(xi, &x[pick]));
        }
    }
    let mut weights = vec![1.0 / k as f64; k];
    let mut cov = global_cov.to_vec();
    let second = {
        let mut s = scatter(x, d);
        s.iter_mut().for_each(|v| *v /= n as f64);
        s
    };
    let ln2pi = (2.0 * std::f64::consts::PI).ln();
    let mut prev = f64::NEG_INFINITY;
    let mut ll = prev;
    let mut iterations = 0;
    for it in 1..=MAX_ITERATIONS {
        iterations = it;
        let l = cholesky_ridged(&cov, d)?;
        let log_det: f64 = {
            let mut at = 0;
            let mut s = 0.0;
            for i in 0..d {
                s += l[at + i].ln();
                at += i + 1;
            }
            s
        };
        let white_means: Vec<Vec<f64>> = means.iter().map(|m| forward(&l, m)).collect();
        let log_w: Vec<f64> = weights.iter().map(|w| w.max(1e-300).ln()).collect();
        // E-step: responsibilities [n][k] and the log-likelihood.
        let rows: Vec<(Vec<f64>, f64)> = x
            .par_iter()
            .map(|xi| {
                let y = forward(&l, xi);
                let lp: Vec<f64> = white_means
                    .iter()
                    .zip(&log_w)
                    .map(|(m, lw)| lw - 0.5 * sq(&y, m))
                    .collect();
                let top = lp.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let z: f64 = lp.iter().map(|v| (v - top).exp()).sum();
                let lse = top + z.ln();
                (
                    lp.iter().map(|v| (v - lse).exp()).collect(),
                    lse - log_det - 0.5 * d as f64 * ln2pi,
                )
            })
            .collect();
        ll = rows.iter().map(|(_, l)| l).sum::<f64>() / n as f64;
        progress(it, ll);
        // M-step: weights, means, and the shared covariance E[x xᵀ] − Σ_k w_k m_k m_kᵀ.
        let mut counts = vec![0f64; k];
        let mut sums = vec![vec![0f64; d]; k];
        for ((r, _), xi) in rows.iter().zip(x) {
            for c in 0..k {
                counts[c] += r[c];
                for (s, v) in sums[c].iter_mut().zip(xi) {
                    *s += r[c] * v;
                }
            }
        }
        for c in 0..k {
            if counts[c] > 1e-9 {
                means[c] = sums[c].iter().map(|s| s / counts[c]).collect();
            }
            weights[c] = counts[c] / n as f64;
        }
        cov = second.clone();
        for c in 0..k {
            for i in 0..d {
                for j in 0..d {
                    cov[i * d + j] -= weights[c] * means[c][i] * means[c][j];
                }
            }
        }
        if ll - prev < TOLERANCE {
            break;
        }
        prev = ll;
    }
    Ok(EmFit {
        weights,
        means,
        cov,
        iterations,
        log_likelihood: ll,
    })
}

impl LatentPrior {
    /// Fit a mixture of `components` Gaussians (tied covariance) to the aggregate posterior of the
    /// `(μ, σ)` pairs of training windows; the EM start is drawn from `seed`. `progress` hears
    /// each EM iteration and its mean log-likelihood.
    pub fn fit(
        model: &str,
        data: &str,
        mus: &[Vec<f32>],
        sigmas: &[Vec<f32>],
        components: usize,
        seed: u64,
        progress: &mut dyn FnMut(usize, f64),
    ) -> Result<LatentPrior> {
        let (mean, mu_cov, sigma2) = moments(mus, sigmas)?;
        let d = mean.len();
        let n = mus.len();
        if components == 0 || components > n {
            return Err(Error::Invalid(format!(
                "a latent prior of {components} components cannot be fitted to {n} windows (1 to {n})"
            )));
        }
        let mu_var = (0..d).map(|k| mu_cov[k * d + k]).sum::<f64>() / d as f64;
        let diag: Vec<f64> = (0..d).map(|k| mu_cov[k * d + k] + sigma2[k]).collect();
        let mean_sigma_squared = sigma2.iter().sum::<f64>() / d as f64;
        let x: Vec<Vec<f64>> = mus
            .iter()
            .map(|m| m.iter().map(|v| *v as f64).collect())
            .collect();
        let EmFit {
            weights,
            means,
            mut cov,
            iterations,
            log_likelihood,
        } = em_tied(&x, components, &mu_cov, &mut Rng::new(seed), progress)?;
        for k in 0..d {
            cov[k * d + k] += sigma2[k];
        }
        let component_variance = (0..d).map(|k| cov[k * d + k]).sum::<f64>() / d as f64;
        let chol = cholesky_ridged(&cov, d)?;
        let summary = PriorSummary {
            mean_variance: mu_var + mean_sigma_squared,
            mean_mu_variance: mu_var,
            mean_sigma_squared,
            low_variance_dims: diag.iter().filter(|v| **v < 0.1).count(),
            high_variance_dims: diag.iter().filter(|v| **v > 2.0).count(),
            mean_norm: mean.iter().map(|m| m * m).sum::<f64>().sqrt(),
            components,
            iterations,
            log_likelihood,
            component_variance,
        };
        Ok(LatentPrior {
            format: FORMAT.into(),
            model: model.into(),
            data: data.into(),
            windows: n,
            weights,
            means: means
                .iter()
                .map(|m| m.iter().map(|v| *v as f32).collect())
                .collect(),
            cholesky: chol.iter().map(|v| *v as f32).collect(),
            scale: 1.0,
            summary,
        })
    }

    pub fn z_size(&self) -> usize {
        self.means.first().map(|m| m.len()).unwrap_or(0)
    }

    /// z = means[component] + scale · L ε for a standard normal ε.
    fn transform(&self, component: usize, eps: &[f32]) -> Vec<f32> {
        let mut z = self.means[component].clone();
        let mut at = 0;
        for (i, zi) in z.iter_mut().enumerate() {
            let row = &self.cholesky[at..at + i + 1];
            *zi += (self.scale
                * row
                    .iter()
                    .zip(eps)
                    .map(|(l, e)| (*l as f64) * (*e as f64))
                    .sum::<f64>()) as f32;
            at += i + 1;
        }
        z
    }

    /// One draw: a component by weight, then ε ~ N(0, I).
    pub fn draw(&self, rng: &mut Rng) -> Vec<f32> {
        let mut u = rng.uniform();
        let mut component = self.weights.len() - 1;
        for (c, w) in self.weights.iter().enumerate() {
            if u < *w {
                component = c;
                break;
            }
            u -= w;
        }
        let eps = rng.normals(self.z_size());
        self.transform(component, &eps)
    }

    pub fn path(model_dir: &Path) -> PathBuf {
        model_dir.join(FILE_NAME)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        let json = serde_json::to_vec(self).map_err(|e| Error::Invalid(e.to_string()))?;
        write_atomic(path, &json)
    }

    /// Load and check a `latent_prior.json` for a model with latent size `z_size`.
    pub fn load(path: &Path, z_size: usize) -> Result<LatentPrior> {
        let raw = std::fs::read(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                Error::bad_input(
                    path,
                    "no fitted latent prior here; fit one with `musicvae fit-prior --model DIR --data DIR`",
                )
            } else {
                Error::io(path, e)
            }
        })?;
        let p: LatentPrior = serde_json::from_slice(&raw).map_err(|e| Error::Json {
            path: path.to_path_buf(),
            reason: format!("not a {FORMAT} file: {e}"),
        })?;
        let bad = |reason: String| Error::Json {
            path: path.to_path_buf(),
            reason,
        };
        if p.format != FORMAT {
            return Err(bad(format!("format '{}' is not {FORMAT}", p.format)));
        }
        if !(p.scale.is_finite() && p.scale > 0.0) {
            return Err(bad(format!(
                "its scale {} is not a positive number; refit it with `musicvae fit-prior --scale S`",
                p.scale
            )));
        }
        let d = p.z_size();
        if d != z_size {
            return Err(bad(format!(
                "it was fitted for a latent size of {d}, the model's is {z_size}; refit it with `musicvae fit-prior`"
            )));
        }
        let weights_ok = !p.weights.is_empty()
            && p.weights.len() == p.means.len()
            && p.weights.iter().all(|w| w.is_finite() && *w >= 0.0)
            && (p.weights.iter().sum::<f64>() - 1.0).abs() < 1e-6;
        if !weights_ok
            || p.means.iter().any(|m| m.len() != d)
            || p.cholesky.len() != d * (d + 1) / 2
            || p.cholesky
                .iter()
                .chain(p.means.iter().flatten())
                .any(|x| !x.is_finite())
        {
            return Err(bad(
                "its weights, means or Cholesky factor have the wrong size or values".into(),
            ));
        }
        Ok(p)
    }

    /// The fitted prior beside the model, if there is one (errors only for a broken file).
    pub fn beside(model_dir: &Path, z_size: usize) -> Result<Option<LatentPrior>> {
        let p = Self::path(model_dir);
        if p.exists() {
            Self::load(&p, z_size).map(Some)
        } else {
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_of_the_aggregate_posterior_by_hand() {
        // μ: (1, 0), (3, 2) → mean (2, 1); Cov(μ) (n − 1 = 1): [[2, 2], [2, 2]].
        // σ: (1, 0), (1, 2) → E[σ²] = (1, 2).
        let mus = vec![vec![1.0, 0.0], vec![3.0, 2.0]];
        let sig = vec![vec![1.0, 0.0], vec![1.0, 2.0]];
        let (m, c, s2) = moments(&mus, &sig).unwrap();
        assert_eq!(m, vec![2.0, 1.0]);
        assert_eq!(c, vec![2.0, 2.0, 2.0, 2.0]);
        assert_eq!(s2, vec![1.0, 2.0]);
        assert!(moments(&mus[..1], &sig[..1]).is_err());
        assert!(moments(&mus, &[vec![1.0], vec![1.0]]).is_err());
        assert!(moments(&[vec![f32::NAN, 0.0], vec![0.0, 0.0]], &sig).is_err());
    }

    #[test]
    fn cholesky_and_forward_substitution() {
        let a = [4.0, 2.0, 0.4, 2.0, 5.0, 1.0, 0.4, 1.0, 3.0];
        let l = cholesky(&a, 3).unwrap();
        assert_eq!(l.len(), 6);
        let at = |i: usize, j: usize| if j > i { 0.0 } else { l[i * (i + 1) / 2 + j] };
        for i in 0..3 {
            for j in 0..3 {
                let v: f64 = (0..3).map(|k| at(i, k) * at(j, k)).sum();
                assert!((v - a[i * 3 + j]).abs() < 1e-12, "({i}, {j}): {v}");
            }
        }
        let y = forward(&l, &[1.0, -2.0, 0.5]);
        for i in 0..3 {
            let back: f64 = (0..3).map(|k| at(i, k) * y[k]).sum();
            assert!((back - [1.0, -2.0, 0.5][i]).abs() < 1e-12);
        }
        // Back substitution: Lᵀ x = y, so L Lᵀ x = A x = b.
        let x = backward(&l, &y);
        for i in 0..3 {
            let ax: f64 = (0..3).map(|k| a[i * 3 + k] * x[k]).sum();
            assert!((ax - [1.0, -2.0, 0.5][i]).abs() < 1e-12, "row {i}: {ax}");
        }
        assert!(cholesky(&[1.0, 2.0, 2.0, 1.0], 2).is_none(), "indefinite");
        // A singular matrix gets the smallest ridge that makes it positive definite.
        assert!(cholesky_ridged(&[1.0, 1.0, 1.0, 1.0], 2).is_ok());
    }

    #[test]
    fn one_component_samples_have_the_aggregate_moments() {
        // Encoded windows from a known correlated Gaussian (σ = 0.5 everywhere): the fitted
        // prior's samples must have mean E[μ] and covariance Cov(μ) + diag(0.25).
        let mut rng = Rng::new(7);
        let mus: Vec<Vec<f32>> = (0..4000)
            .map(|_| {
                let e = rng.normals(2);
                vec![1.0 + 2.0 * e[0], -0.5 + e[0] + 0.5 * e[1]]
            })
            .collect();
        let sig = vec![vec![0.5f32, 0.5]; mus.len()];
        let p = LatentPrior::fit("m", "d", &mus, &sig, 1, 0, &mut |_, _| {}).unwrap();
        assert_eq!(p.weights, vec![1.0]);
        assert!((p.summary.mean_sigma_squared - 0.25).abs() < 1e-9);
        // True C = [[4 + 0.25, 2], [2, 1.25 + 0.25]].
        let mut rng = Rng::new(1);
        let z: Vec<Vec<f32>> = (0..20000).map(|_| p.draw(&mut rng)).collect();
        let n = z.len() as f64;
        let m0 = z.iter().map(|v| v[0] as f64).sum::<f64>() / n;
        let m1 = z.iter().map(|v| v[1] as f64).sum::<f64>() / n;
        let c = |a: usize, b: usize, ma: f64, mb: f64| {
            z.iter()
                .map(|v| (v[a] as f64 - ma) * (v[b] as f64 - mb))
                .sum::<f64>()
                / n
        };
        assert!(
            (m0 - 1.0).abs() < 0.1 && (m1 + 0.5).abs() < 0.06,
            "{m0} {m1}"
        );
        assert!((c(0, 0, m0, m0) - 4.25).abs() < 0.3);
        assert!((c(0, 1, m0, m1) - 2.0).abs() < 0.2);
        assert!((c(1, 1, m1, m1) - 1.5).abs() < 0.1);
    }

    #[test]
    fn em_finds_two_separated_clusters() {
        // Two clusters at (−4, 0) (30 %) and (4, 2) (70 %), spread 0.5: EM must find both means
        // and weights, a small shared covariance, and samples must come from both.
        let mut rng = Rng::new(3);
        let mus: Vec<Vec<f32>> = (0..2000)
            .map(|i| {
                let e = rng.normals(2);
                let (cx, cy) = if i % 10 < 3 { (-4.0, 0.0) } else { (4.0, 2.0) };
                vec![cx + 0.5 * e[0], cy + 0.5 * e[1]]
            })
            .collect();
        let sig = vec![vec![0.1f32, 0.1]; mus.len()];
        let p = LatentPrior::fit("m", "d", &mus, &sig, 2, 5, &mut |_, _| {}).unwrap();
        let left = if p.means[0][0] < 0.0 { 0 } else { 1 };
        let right = 1 - left;
        assert!((p.weights[left] - 0.3).abs() < 0.02, "{:?}", p.weights);
        assert!((p.means[left][0] + 4.0).abs() < 0.1 && (p.means[right][1] - 2.0).abs() < 0.1);
        // Within-cluster variance 0.25 + E[σ²] 0.01.
        assert!(
            (p.summary.component_variance - 0.26).abs() < 0.03,
            "{:?}",
            p.summary
        );
        let mut rng = Rng::new(2);
        let z: Vec<Vec<f32>> = (0..1000).map(|_| p.draw(&mut rng)).collect();
        let near_left = z.iter().filter(|v| v[0] < 0.0).count();
        assert!((250..350).contains(&near_left), "{near_left}");
        // Nothing is drawn in the empty middle, where one Gaussian would put many samples.
        assert!(z.iter().all(|v| v[0].abs() > 1.5));
        // The mixture explains the data better than one Gaussian.
        let one = LatentPrior::fit("m", "d", &mus, &sig, 1, 5, &mut |_, _| {}).unwrap();
        assert!(p.summary.log_likelihood > one.summary.log_likelihood + 1.0);
        assert!(LatentPrior::fit("m", "d", &mus, &sig, 0, 5, &mut |_, _| {}).is_err());
    }

    #[test]
    fn save_load_and_checks() {
        let d = tempfile::tempdir().unwrap();
        let mus = vec![
            vec![1.0, 0.0, 0.5],
            vec![0.0, 1.0, -0.5],
            vec![0.5, 0.5, 0.0],
            vec![0.2, 0.1, 0.0],
        ];
        let sig = vec![vec![0.3f32; 3]; 4];
        let p = LatentPrior::fit("m", "data", &mus, &sig, 2, 0, &mut |_, _| {}).unwrap();
        let path = LatentPrior::path(d.path());
        assert!(LatentPrior::beside(d.path(), 3).unwrap().is_none());
        p.save(&path).unwrap();
        // JSON keeps the f32 parameters exactly (the f64 summary to within rounding).
        let back = LatentPrior::load(&path, 3).unwrap();
        assert_eq!(
            (&back.weights, &back.means, &back.cholesky, back.windows),
            (&p.weights, &p.means, &p.cholesky, p.windows)
        );
        assert!((back.summary.log_likelihood - p.summary.log_likelihood).abs() < 1e-9);
        assert!(LatentPrior::beside(d.path(), 3).unwrap().is_some());
        let e = LatentPrior::load(&path, 4).unwrap_err().to_string();
        assert!(
            e.contains("latent size of 3") && e.contains("fit-prior"),
            "{e}"
        );
        assert!(LatentPrior::load(&d.path().join("none.json"), 3)
            .unwrap_err()
            .to_string()
            .contains("musicvae fit-prior"));
        let mut broken = p.clone();
        broken.weights = vec![0.9, 0.9];
        broken.save(&path).unwrap();
        assert!(
            LatentPrior::load(&path, 3).is_err(),
            "weights must sum to 1"
        );
        std::fs::write(&path, b"{\"format\": 1}").unwrap();
        assert!(LatentPrior::load(&path, 3).is_err());
        // A scale that is not a positive number is refused with what to do.
        let mut bad_scale = p.clone();
        bad_scale.scale = 0.0;
        bad_scale.save(&path).unwrap();
        let e = LatentPrior::load(&path, 3).unwrap_err().to_string();
        assert!(e.contains("scale 0") && e.contains("--scale"), "{e}");
        // A file written before `scale` existed reads scale 1.
        let mut old = serde_json::to_value(&p).unwrap();
        old.as_object_mut().unwrap().remove("scale");
        std::fs::write(&path, serde_json::to_vec(&old).unwrap()).unwrap();
        assert_eq!(LatentPrior::load(&path, 3).unwrap().scale, 1.0);
    }

    #[test]
    fn scale_shrinks_draws_toward_their_component_mean() {
        // One component: with the same noise, z − mean at scale s is s times that at scale 1.
        let mus = vec![
            vec![1.0, 0.0],
            vec![3.0, 2.0],
            vec![2.0, 0.5],
            vec![0.0, 1.0],
        ];
        let sig = vec![vec![0.5f32, 0.5]; 4];
        let full = LatentPrior::fit("m", "d", &mus, &sig, 1, 0, &mut |_, _| {}).unwrap();
        assert_eq!(full.scale, 1.0);
        let half = LatentPrior {
            scale: 0.5,
            ..full.clone()
        };
        let mean = &full.means[0];
        for seed in 0..5 {
            let a = full.draw(&mut Rng::new(seed));
            let b = half.draw(&mut Rng::new(seed));
            for k in 0..2 {
                let (da, db) = (a[k] - mean[k], b[k] - mean[k]);
                assert!((db - 0.5 * da).abs() < 1e-5, "{da} {db}");
            }
            assert!(a != b);
        }
    }
}
