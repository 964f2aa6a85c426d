//! Paths through latent space: spherical interpolation (Magenta's `slerp`, with a guard for nearly
//! parallel vectors, which Magenta lacks) and linear interpolation (magenta.js).

/// How to move between two latent vectors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Interpolation {
    /// Spherical: keeps the norm of points drawn from a Gaussian prior (Magenta's Python default).
    Slerp,
    /// Straight line (magenta.js).
    Linear,
}

/// `t` evenly spaced in [0, 1], both ends included (`n` ≥ 2; `n` = 1 gives [0]).
pub fn linspace(n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![0.0],
        _ => (0..n).map(|i| i as f64 / (n - 1) as f64).collect(),
    }
}

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

/// Linear interpolation p0 + t (p1 − p0).
pub fn lerp(p0: &[f32], p1: &[f32], t: f64) -> Vec<f32> {
    p0.iter()
        .zip(p1)
        .map(|(a, b)| (*a as f64 + t * (*b as f64 - *a as f64)) as f32)
        .collect()
}

/// Spherical interpolation: sin((1−t)Ω)/sin Ω · p0 + sin(tΩ)/sin Ω · p1 with
/// Ω = arccos(p0·p1 / |p0||p1|). Falls back to [`lerp`] when the vectors are (nearly) parallel
/// or one is zero, where the formula divides by ~0.
pub fn slerp(p0: &[f32], p1: &[f32], t: f64) -> Vec<f32> {
    let (n0, n1) = (dot(p0, p0).sqrt(), dot(p1, p1).sqrt());
    if n0 < 1e-12 || n1 < 1e-12 {
        return lerp(p0, p1, t);
    }
    let cos = (dot(p0, p1) / (n0 * n1)).clamp(-1.0, 1.0);
    let omega = cos.acos();
    let so = omega.sin();
    if so.abs() < 1e-6 {
        return lerp(p0, p1, t);
    }
    let (a, b) = (((1.0 - t) * omega).sin() / so, (t * omega).sin() / so);
    p0.iter()
        .zip(p1)
        .map(|(x, y)| (a * *x as f64 + b * *y as f64) as f32)
        .collect()
}

/// The `n` points of a path from `p0` to `p1`, ends included.
pub fn path(p0: &[f32], p1: &[f32], n: usize, how: Interpolation) -> Vec<Vec<f32>> {
    linspace(n)
        .into_iter()
        .map(|t| match how {
            Interpolation::Slerp => slerp(p0, p1, t),
            Interpolation::Linear => lerp(p0, p1, t),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn ends_are_the_inputs() {
        let (a, b) = (vec![1.0, 0.0, 2.0], vec![0.0, 3.0, -1.0]);
        for how in [Interpolation::Slerp, Interpolation::Linear] {
            let p = path(&a, &b, 5, how);
            assert_eq!(p.len(), 5);
            assert!(close(&p[0], &a) && close(&p[4], &b));
        }
        assert_eq!(linspace(3), vec![0.0, 0.5, 1.0]);
    }

    #[test]
    fn slerp_of_orthogonal_unit_vectors_stays_on_the_circle() {
        // Hand-computed: Ω = π/2, t = 1/2 → (sin(π/4), sin(π/4)).
        let m = slerp(&[1.0, 0.0], &[0.0, 1.0], 0.5);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!(close(&m, &[h, h]), "{m:?}");
        for t in [0.1, 0.3, 0.7] {
            let p = slerp(&[1.0, 0.0], &[0.0, 1.0], t);
            let norm = (p[0] * p[0] + p[1] * p[1]).sqrt();
            assert!((norm - 1.0).abs() < 1e-5);
        }
        // Linear midpoint is shorter.
        assert!(close(&lerp(&[1.0, 0.0], &[0.0, 1.0], 0.5), &[0.5, 0.5]));
    }

    #[test]
    fn parallel_and_zero_vectors_do_not_blow_up() {
        let a = vec![1.0, 2.0];
        let p = slerp(&a, &a, 0.5);
        assert!(close(&p, &a));
        let p = slerp(&a, &[2.0, 4.0], 0.5);
        assert!(close(&p, &[1.5, 3.0]), "{p:?}");
        let p = slerp(&[0.0, 0.0], &a, 0.5);
        assert!(p.iter().all(|x| x.is_finite()));
    }
}
