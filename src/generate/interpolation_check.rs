//! The paper's interpolation check: along latent interpolations between pairs of held-out phrases,
//! how far each decoded point is from the start phrase A (fraction of differing steps). A good
//! latent space moves smoothly from ~0 (A reconstructed) to about the A–B distance.

use super::inference::{token_accuracy, Vae};
use super::refine::RefineOptions;
use super::slerp::{linspace, path, Interpolation};
use crate::data::converter::Window;
use crate::error::{Error, Result};
use crate::rng::Rng;
use burn::tensor::backend::Backend;
use serde::{Deserialize, Serialize};

/// Mean distances along the path, over all pairs.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InterpolationCheck {
    pub pairs: usize,
    pub t: Vec<f64>,
    /// Mean fraction of steps that differ from input A, per point.
    pub differ_from_a: Vec<f64>,
    /// Mean fraction of steps that differ from input B, per point.
    pub differ_from_b: Vec<f64>,
    /// Mean fraction of steps where A and B differ.
    pub a_b_distance: f64,
    /// The refinement of the end codes, when they were refined (None = the encoder's μ).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refine: Option<RefineOptions>,
    /// The decoded phrases at the middle of each path (t = 0.5, or the point nearest it), for
    /// judging how realistic the way between two phrases is.
    #[serde(skip)]
    pub midpoints: Vec<Window>,
}

/// Interpolate (slerp of μ, or of refined codes with `refine`, argmax decoding) between `pairs`
/// random pairs of distinct `windows`.
pub fn interpolation_check<B: Backend>(
    vae: &Vae<B>,
    windows: &[Window],
    pairs: usize,
    points: usize,
    seed: u64,
    refine: Option<&RefineOptions>,
) -> Result<InterpolationCheck> {
    if windows.len() < 2 {
        return Err(Error::Invalid(
            "the interpolation check needs at least two held-out windows".into(),
        ));
    }
    let points = points.max(2);
    let mut rng = Rng::new(seed);
    let chosen: Vec<(usize, usize)> = (0..pairs.max(1))
        .map(|_| {
            let a = rng.below(windows.len());
            let mut b = rng.below(windows.len() - 1);
            if b >= a {
                b += 1;
            }
            (a, b)
        })
        .collect();
    let ends: Vec<Window> = chosen
        .iter()
        .flat_map(|&(a, b)| [windows[a].clone(), windows[b].clone()])
        .collect();
    let lat = vae.encode(&ends)?;
    let codes: Vec<Vec<f32>> = match refine {
        Some(opts) => vae.refine(&ends, &lat, opts, |_| {})?.0,
        None => lat.into_iter().map(|l| l.mu).collect(),
    };
    let zs: Vec<Vec<f32>> = (0..chosen.len())
        .flat_map(|i| {
            path(
                &codes[2 * i],
                &codes[2 * i + 1],
                points,
                Interpolation::Slerp,
            )
        })
        .collect();
    let decoded = vae.decode(&zs, 0.0, seed)?;
    let (mut from_a, mut from_b) = (vec![0.0; points], vec![0.0; points]);
    let mut ab = 0.0;
    for (i, &(a, b)) in chosen.iter().enumerate() {
        ab += 1.0 - token_accuracy(&windows[a], &windows[b]);
        for k in 0..points {
            let d = &decoded[i * points + k];
            from_a[k] += 1.0 - token_accuracy(d, &windows[a]);
            from_b[k] += 1.0 - token_accuracy(d, &windows[b]);
        }
    }
    let n = chosen.len() as f64;
    let mid = (points - 1) / 2;
    let midpoints = (0..chosen.len())
        .map(|i| decoded[i * points + mid].clone())
        .collect();
    Ok(InterpolationCheck {
        refine: refine.copied(),
        midpoints,
        pairs: chosen.len(),
        t: linspace(points),
        differ_from_a: from_a.iter().map(|x| x / n).collect(),
        differ_from_b: from_b.iter().map(|x| x / n).collect(),
        a_b_distance: ab / n,
    })
}
