//! ENAS factorized reduction (Pham et al. 2018, `_factorized_reduction` in melodyguan/enas):
//! a downsampling that keeps both the even and the odd pixels a plain strided 1×1 conv would skip.
//!
//! - stride 1: 1×1 conv (no bias) → BN.
//! - stride 2 (`filters` even): path 1 = 1×1 conv with stride 2 to `filters/2` (ENAS: avg-pool 1×1
//!   stride 2 then 1×1 conv, the same thing); path 2 = the input shifted by one pixel (drop the first
//!   row/column, pad one zero row/column at the end) → the same kind of conv; concatenate on
//!   channels → BN.
//!
//! Strides are per axis (pitch, time) so a stage that keeps the time resolution (stride (2, 1))
//! shifts and subsamples the pitch axis only.

use super::conv_bn::{conv_init, BnSettings};
use super::conv_ops::conv2d;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::BatchNorm;
use burn::tensor::{backend::Backend, Tensor};

#[derive(Module, Debug)]
pub struct FactorizedReduction<B: Backend> {
    /// One 1×1 conv (stride 1) or the two path convs (stride 2 on some axis).
    pub paths: Vec<Conv2d<B>>,
    pub bn: BatchNorm<B>,
    pub stride: [usize; 2],
}

impl<B: Backend> FactorizedReduction<B> {
    /// `filters` must be even when a stride is 2 (the channel count of every MobileNetV3 and
    /// ResNet stage here is a multiple of 8). Strides must be 1 or 2.
    pub fn new(
        c_in: usize,
        filters: usize,
        stride: [usize; 2],
        bn: BnSettings,
        device: &B::Device,
    ) -> Self {
        let conv = |c_out: usize| {
            Conv2dConfig::new([c_in, c_out], [1, 1])
                .with_stride(stride)
                .with_bias(false)
                .with_initializer(conv_init())
                .init(device)
        };
        let paths = if stride == [1, 1] {
            vec![conv(filters)]
        } else {
            debug_assert!(
                filters.is_multiple_of(2),
                "factorized reduction needs even filters"
            );
            vec![conv(filters / 2), conv(filters - filters / 2)]
        };
        FactorizedReduction {
            paths,
            bn: bn.init(filters, device),
            stride,
        }
    }

    /// `[N, C_in, H, W]` → `[N, filters, ⌈H/s_h⌉, ⌈W/s_w⌉]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        if self.paths.len() == 1 {
            return self.bn.forward(conv2d(&self.paths[0], x));
        }
        let [n, c, h, w] = x.dims();
        let device = x.device();
        // Path 2 input: shift by one pixel on every strided axis, zero-padding the far end.
        let mut shifted = x.clone();
        if self.stride[0] == 2 {
            shifted = Tensor::cat(
                vec![
                    shifted.slice([0..n, 0..c, 1..h, 0..w]),
                    Tensor::zeros([n, c, 1, w], &device),
                ],
                2,
            ); // [N, C, H, W]
        }
        if self.stride[1] == 2 {
            shifted = Tensor::cat(
                vec![
                    shifted.slice([0..n, 0..c, 0..h, 1..w]),
                    Tensor::zeros([n, c, h, 1], &device),
                ],
                3,
            ); // [N, C, H, W]
        }
        let a = conv2d(&self.paths[0], x); // [N, filters/2, ⌈H/2⌉, ⌈W/s⌉]
        let b = conv2d(&self.paths[1], shifted); // [N, filters/2, ⌈H/2⌉, ⌈W/s⌉]
        self.bn.forward(Tensor::cat(vec![a, b], 1)) // [N, filters, ⌈H/2⌉, ⌈W/s⌉]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::TensorData;

    type B = NdArray<f32>;
    const BN: BnSettings = BnSettings {
        momentum: 0.1,
        epsilon: 1e-3,
    };

    #[test]
    fn output_shapes() {
        let dev = Default::default();
        let x = Tensor::<B, 4>::ones([2, 6, 11, 8], &dev);
        let fr = FactorizedReduction::<B>::new(6, 16, [2, 2], BN, &dev);
        assert_eq!(fr.forward(x.clone()).dims(), [2, 16, 6, 4]);
        let fr = FactorizedReduction::<B>::new(6, 16, [2, 1], BN, &dev);
        assert_eq!(fr.forward(x.clone()).dims(), [2, 16, 6, 8]);
        let fr = FactorizedReduction::<B>::new(6, 10, [1, 1], BN, &dev);
        assert_eq!(fr.forward(x).dims(), [2, 10, 11, 8]);
    }

    #[test]
    fn paths_see_even_and_odd_pixels() {
        // With identity-like 1×1 convs, path 1 reads pixel (0, 0) and path 2 pixel (1, 1).
        let dev = Default::default();
        let mut fr = FactorizedReduction::<B>::new(1, 2, [2, 2], BN, &dev);
        for p in fr.paths.iter_mut() {
            p.weight = p.weight.clone().map(|_| Tensor::ones([1, 1, 1, 1], &dev));
        }
        let x = Tensor::<B, 4>::from_data(
            TensorData::new((0..16).map(|v| v as f32).collect::<Vec<_>>(), [1, 1, 4, 4]),
            &dev,
        );
        let a = fr.paths[0]
            .forward(x.clone())
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        assert_eq!(a, vec![0.0, 2.0, 8.0, 10.0]);
        let y = fr.forward(x); // BN in eval (no autodiff): (v − 0)/sqrt(1 + eps)
        let v = y.into_data().to_vec::<f32>().unwrap();
        let s = (1.0f32 + 1e-3).sqrt();
        let want: Vec<f32> = [0.0, 2.0, 8.0, 10.0, 5.0, 7.0, 13.0, 15.0]
            .iter()
            .map(|v| v / s)
            .collect();
        for (g, w) in v.iter().zip(&want) {
            assert!((g - w).abs() < 1e-4, "{v:?} vs {want:?}");
        }
    }
}
