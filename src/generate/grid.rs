//! Latent-space layouts beyond a line: the 2-D grid of magenta.js's interpolation demos (four
//! corner codes, every cell a bilinear or spherical mix of them), variations of one code
//! (magenta.js's `similar`), and a chain through several codes in order.

use super::slerp::{lerp, linspace, path, slerp, Interpolation};
use crate::rng::Rng;

/// Codes of an `n`×`n` grid in reading order (row by row). Corners: `a` top left, `b` top right,
/// `c` bottom left, `d` bottom right. Cell (r, c) mixes along the rows first: top = mix(a, b, u),
/// bottom = mix(c, d, u), z = mix(top, bottom, v), u = col/(n−1), v = row/(n−1).
pub fn grid_codes(corners: [&[f32]; 4], n: usize, how: Interpolation) -> Vec<Vec<f32>> {
    let [a, b, c, d] = corners;
    let mix = |p: &[f32], q: &[f32], t: f64| match how {
        Interpolation::Slerp => slerp(p, q, t),
        Interpolation::Linear => lerp(p, q, t),
    };
    let ts = linspace(n);
    let mut out = Vec::with_capacity(n * n);
    for &v in &ts {
        for &u in &ts {
            let top = mix(a, b, u);
            let bottom = mix(c, d, u);
            out.push(mix(&top, &bottom, v));
        }
    }
    out
}

/// How `--amount` of [`variation_codes`] is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariationScale {
    /// z = μ + amount·σ·ε: amount 1 is one draw from the posterior q(z|x).
    Posterior,
    /// z = μ + amount·ε: amount 1 is a step the size of the prior's standard deviation.
    Prior,
}

/// `n` codes near `mu`: z = μ + amount·s·ε, ε ~ N(0, I) from `seed`, s = σ (posterior units) or 1
/// (prior units).
pub fn variation_codes(
    mu: &[f32],
    sigma: &[f32],
    n: usize,
    amount: f64,
    scale: VariationScale,
    seed: u64,
) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    (0..n)
        .map(|_| {
            let eps = rng.normals(mu.len());
            mu.iter()
                .zip(sigma)
                .zip(eps)
                .map(|((&m, &s), e)| {
                    let s = match scale {
                        VariationScale::Posterior => s as f64,
                        VariationScale::Prior => 1.0,
                    };
                    (m as f64 + amount * s * e as f64) as f32
                })
                .collect()
        })
        .collect()
}

/// A path through `codes` in order with `between` points strictly between each pair (the given
/// codes themselves included once each); with `closed`, it returns to the first code.
/// Returns the codes and, for each, (index of the pair's first code, t along the pair).
pub fn chain_codes(
    codes: &[Vec<f32>],
    between: usize,
    closed: bool,
    how: Interpolation,
) -> (Vec<Vec<f32>>, Vec<(usize, f64)>) {
    let mut stops: Vec<usize> = (0..codes.len()).collect();
    if closed && codes.len() > 1 {
        stops.push(0);
    }
    let mut out = Vec::new();
    let mut place = Vec::new();
    for (k, pair) in stops.windows(2).enumerate() {
        let points = path(&codes[pair[0]], &codes[pair[1]], between + 2, how);
        let ts = linspace(between + 2);
        // The pair's end point is the next pair's start: keep it only on the last pair.
        let last = k + 2 == stops.len();
        let keep = if last { points.len() } else { points.len() - 1 };
        for (p, t) in points.into_iter().zip(ts).take(keep) {
            out.push(p);
            place.push((k, t));
        }
    }
    if stops.len() == 1 {
        if let Some(c) = codes.first() {
            out.push(c.clone());
            place.push((0, 0.0));
        }
    }
    (out, place)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_corners_are_the_inputs_and_the_centre_is_the_mean() {
        let (a, b, c, d) = (
            vec![0.0f32, 0.0],
            vec![4.0, 0.0],
            vec![0.0, 4.0],
            vec![4.0, 4.0],
        );
        let g = grid_codes([&a, &b, &c, &d], 3, Interpolation::Linear);
        assert_eq!(g.len(), 9);
        assert_eq!((&g[0], &g[2], &g[6], &g[8]), (&a, &b, &c, &d));
        assert_eq!(g[4], vec![2.0, 2.0]);
        assert_eq!(g[1], vec![2.0, 0.0]); // top row, middle column
        assert_eq!(g[3], vec![0.0, 2.0]); // middle row, first column
                                          // Spherical mixing keeps the corners too.
        let g = grid_codes([&a, &b, &c, &d], 4, Interpolation::Slerp);
        assert_eq!((&g[0], &g[3], &g[12], &g[15]), (&a, &b, &c, &d));
    }

    #[test]
    fn variations_scale_with_amount_and_sigma() {
        let mu = vec![1.0f32; 64];
        let sigma = vec![0.1f32; 64];
        let dist = |codes: &[Vec<f32>]| -> f64 {
            codes
                .iter()
                .map(|z| {
                    z.iter()
                        .zip(&mu)
                        .map(|(a, b)| ((a - b) as f64).powi(2))
                        .sum::<f64>()
                        .sqrt()
                })
                .sum::<f64>()
                / codes.len() as f64
        };
        let small = variation_codes(&mu, &sigma, 8, 0.5, VariationScale::Posterior, 1);
        let large = variation_codes(&mu, &sigma, 8, 2.0, VariationScale::Posterior, 1);
        let prior = variation_codes(&mu, &sigma, 8, 0.5, VariationScale::Prior, 1);
        // E|ε| in 64 dims ≈ 8: 0.5·0.1·8 = 0.4, 2·0.1·8 = 1.6, 0.5·8 = 4.
        assert!((dist(&small) - 0.4).abs() < 0.1, "{}", dist(&small));
        assert!((dist(&large) / dist(&small) - 4.0).abs() < 1e-3);
        assert!((dist(&prior) / dist(&small) - 10.0).abs() < 1e-3);
        assert_eq!(
            variation_codes(&mu, &sigma, 2, 0.0, VariationScale::Prior, 5),
            vec![mu.clone(), mu.clone()]
        );
    }

    #[test]
    fn chain_passes_through_every_code_once() {
        let codes: Vec<Vec<f32>> = (0..4).map(|i| vec![i as f32, 0.0]).collect();
        let (path, place) = chain_codes(&codes, 3, false, Interpolation::Linear);
        // 3 pairs × (3 between + 1 start) + the last end = 13.
        assert_eq!(path.len(), 13);
        assert_eq!(place.len(), 13);
        for (i, c) in codes.iter().enumerate() {
            assert_eq!(&path[4 * i], c);
        }
        assert_eq!(path[2], vec![0.5, 0.0]);
        assert_eq!(place[5], (1, 0.25));
        let (looped, _) = chain_codes(&codes, 1, true, Interpolation::Linear);
        // 4 pairs × 2 + 1 = 9, ending where it began.
        assert_eq!(looped.len(), 9);
        assert_eq!(looped[8], codes[0]);
        let (one, _) = chain_codes(&codes[..1], 3, false, Interpolation::Linear);
        assert_eq!(one, vec![codes[0].clone()]);
    }
}
