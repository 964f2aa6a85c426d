//! Activations of MobileNetV3: h-swish `x·relu6(x+3)/6` and the hard-sigmoid gate `relu6(x+3)/6`
//! of squeeze-and-excitation.
//!
//! burn's `hard_sigmoid(x, alpha, beta)` is `clamp(alpha·x + beta, 0, 1)`; its module
//! (`HardSigmoidConfig`) defaults to the ONNX alpha = 0.2, which is NOT MobileNetV3's gate.
//! `relu6(x+3)/6 = clamp(x/6 + 0.5, 0, 1)`, i.e. alpha = 1/6, beta = 0.5.

use burn::tensor::activation::{hard_sigmoid, hard_swish, relu};
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

/// MobileNetV3's hard sigmoid `relu6(x + 3) / 6`, in [0, 1].
pub fn h_sigmoid<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    hard_sigmoid(x, 1.0 / 6.0, 0.5)
}

/// h-swish `x · relu6(x + 3) / 6`: 0 for x ≤ −3, x for x ≥ 3.
pub fn h_swish<B: Backend, const D: usize>(x: Tensor<B, D>) -> Tensor<B, D> {
    hard_swish(x)
}

/// The non-linearity of a layer (the paper's NL column: RE or HS; none after a projection).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Act {
    Identity,
    Relu,
    HSwish,
}

impl Act {
    pub fn apply<B: Backend, const D: usize>(self, x: Tensor<B, D>) -> Tensor<B, D> {
        match self {
            Act::Identity => x,
            Act::Relu => relu(x),
            Act::HSwish => h_swish(x),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    fn eval(f: fn(Tensor<B, 1>) -> Tensor<B, 1>, xs: &[f32]) -> Vec<f32> {
        let dev = Default::default();
        let t = Tensor::<B, 1>::from_floats(xs, &dev);
        f(t).into_data().to_vec::<f32>().unwrap()
    }

    #[test]
    fn h_swish_at_reference_points() {
        let got = eval(h_swish, &[-4.0, -3.0, -1.0, 0.0, 1.0, 3.0, 4.0]);
        let want = [0.0, 0.0, -1.0 / 3.0, 0.0, 2.0 / 3.0, 3.0, 4.0];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() < 1e-6, "{got:?} vs {want:?}");
        }
    }

    #[test]
    fn h_sigmoid_is_relu6_shifted_over_6() {
        let xs = [-5.0, -3.0, -1.0, 0.0, 1.0, 3.0, 5.0];
        let got = eval(h_sigmoid, &xs);
        for (g, x) in got.iter().zip(xs) {
            let want = (x + 3.0f32).clamp(0.0, 6.0) / 6.0;
            assert!((g - want).abs() < 1e-6, "h_sigmoid({x}) = {g}, want {want}");
        }
    }

    #[test]
    fn act_variants() {
        let dev = Default::default();
        let t = Tensor::<B, 1>::from_floats([-2.0, 2.0], &dev);
        let r = Act::Relu
            .apply(t.clone())
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(r, vec![0.0, 2.0]);
        let i = Act::Identity.apply(t).into_data().to_vec::<f32>().unwrap();
        assert_eq!(i, vec![-2.0, 2.0]);
    }
}
