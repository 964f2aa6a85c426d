//! MusicVAE's loss: reconstruction cross-entropy summed over time (and tracks), averaged over the batch;
//! KL(N(μ, σ²) ‖ N(0, I)) per example summed over z; free bits; β. Also accuracy counts.

use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{backend::Backend, Int, Tensor};

/// Loss terms as tensors (so the caller decides when to read them).
#[derive(Debug, Clone)]
pub struct LossTerms<B: Backend> {
    /// Scalar `[1]`: mean r_loss + β · mean kl_cost.
    pub loss: Tensor<B, 1>,
    /// `[B]` reconstruction loss per example (nats).
    pub r_loss: Tensor<B, 1>,
    /// `[B]` KL per example (nats).
    pub kl: Tensor<B, 1>,
    /// `[B]` max(KL − free_nats, 0).
    pub kl_cost: Tensor<B, 1>,
}

/// KL(N(μ, σ²) ‖ N(0, I)) per example, summed over z: `[B, Z]` → `[B]`.
pub fn kl_divergence<B: Backend>(mu: Tensor<B, 2>, sigma: Tensor<B, 2>) -> Tensor<B, 1> {
    let var = sigma.clone().powf_scalar(2.0);
    let kl = sigma.clamp_min(1e-12).log().neg() + (var + mu.powf_scalar(2.0)).mul_scalar(0.5) - 0.5; // [B, Z]
    kl.sum_dim(1).squeeze_dim::<1>(1) // [B]
}

/// Cross-entropy summed over time: logits `[B, T, D]`, targets `[B, T]` → `[B]`.
pub fn cross_entropy_sum<B: Backend>(
    logits: Tensor<B, 3>,
    targets: Tensor<B, 2, Int>,
) -> Tensor<B, 1> {
    let lp = log_softmax(logits, 2); // [B, T, D]
    let picked = lp.gather(2, targets.unsqueeze_dim::<3>(2)); // [B, T, 1]
    picked.sum_dim(1).reshape([-1]).neg() // [B]
}

/// Full loss.
pub fn vae_loss<B: Backend>(
    logits: &[Tensor<B, 3>],
    targets: &[Tensor<B, 2, Int>],
    mu: Tensor<B, 2>,
    sigma: Tensor<B, 2>,
    free_nats: f64,
    beta: f64,
) -> LossTerms<B> {
    let mut r: Option<Tensor<B, 1>> = None;
    for (l, t) in logits.iter().zip(targets) {
        let ce = cross_entropy_sum(l.clone(), t.clone());
        r = Some(match r {
            Some(acc) => acc + ce,
            None => ce,
        });
    }
    let r_loss = r.expect("at least one track");
    let kl = kl_divergence(mu, sigma);
    let kl_cost = relu(kl.clone().sub_scalar(free_nats));
    let loss = r_loss.clone().mean() + kl_cost.clone().mean().mul_scalar(beta);
    LossTerms {
        loss,
        r_loss,
        kl,
        kl_cost,
    }
}

/// Number of correct argmax predictions per track: `[1]` Int each (steps per track = B·T).
pub fn correct_counts<B: Backend>(
    logits: &[Tensor<B, 3>],
    targets: &[Tensor<B, 2, Int>],
) -> Vec<Tensor<B, 1, Int>> {
    logits
        .iter()
        .zip(targets)
        .map(|(l, t)| {
            l.clone()
                .argmax(2)
                .squeeze_dim::<2>(2)
                .equal(t.clone())
                .int()
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::TensorData;
    type B = NdArray<f32>;

    fn v(t: Tensor<B, 1>) -> Vec<f32> {
        t.into_data().to_vec().unwrap()
    }

    #[test]
    fn kl_hand_computed() {
        let dev = Default::default();
        // μ = [1, 0], σ = [1, 0.5]: KL = (0 + (1 + 1)/2 − ½) + (−ln 0.5 + (0.25 + 0)/2 − ½)
        let mu = Tensor::<B, 2>::from_data(TensorData::new(vec![1.0f32, 0.0], [1, 2]), &dev);
        let sigma = Tensor::<B, 2>::from_data(TensorData::new(vec![1.0f32, 0.5], [1, 2]), &dev);
        let expect = 0.5 + (2f64.ln() + 0.125 - 0.5);
        let got = v(kl_divergence(mu, sigma))[0] as f64;
        assert!((got - expect).abs() < 1e-6, "{got} vs {expect}");
    }

    #[test]
    fn free_bits_and_beta() {
        let dev = Default::default();
        // KL of example 0 = 0.5 (μ=1, σ=1); example 1 = 2.0 (μ=2, σ=1). Free nats 1.0 → costs 0 and 1.
        let mu = Tensor::<B, 2>::from_data(TensorData::new(vec![1.0f32, 2.0], [2, 1]), &dev);
        let sigma = Tensor::<B, 2>::ones([2, 1], &dev);
        // Logits uniform over 2 classes, 3 steps: CE = 3 ln 2 per example.
        let logits = vec![Tensor::<B, 3>::zeros([2, 3, 2], &dev)];
        let targets = vec![Tensor::<B, 2, Int>::zeros([2, 3], &dev)];
        let l = vae_loss(&logits, &targets, mu, sigma, 1.0, 0.5);
        assert_eq!(v(l.kl_cost.clone()), vec![0.0, 1.0]);
        let expect = 3.0 * 2f64.ln() + 0.5 * 0.5;
        let got = v(l.loss)[0] as f64;
        assert!((got - expect).abs() < 1e-5, "{got} vs {expect}");
        assert!((v(l.r_loss)[0] as f64 - 3.0 * 2f64.ln()).abs() < 1e-5);
    }
}
