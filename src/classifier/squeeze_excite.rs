//! Squeeze-and-excitation (Hu et al. 2018) as MobileNetV3 uses it: global average pool →
//! 1×1 conv (C → make_divisible(C/4, 8), with bias) → ReLU → 1×1 conv (→ C, with bias) →
//! hard-sigmoid gate `relu6(x+3)/6` → multiply the input channel-wise.

use super::activation::h_sigmoid;
use super::conv_bn::conv_init;
use super::conv_ops::conv2d;
use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor};

/// Squeeze width of an SE block on `channels` expanded channels: `make_divisible(channels / 4, 8)`.
pub fn squeeze_channels(channels: usize) -> usize {
    super::width::make_divisible((channels / 4) as f64, 8)
}

#[derive(Module, Debug)]
pub struct SqueezeExcite<B: Backend> {
    pub fc1: Conv2d<B>,
    pub fc2: Conv2d<B>,
}

impl<B: Backend> SqueezeExcite<B> {
    pub fn new(channels: usize, device: &B::Device) -> Self {
        let s = squeeze_channels(channels);
        let conv = |a, b| {
            Conv2dConfig::new([a, b], [1, 1])
                .with_initializer(conv_init())
                .init(device)
        };
        SqueezeExcite {
            fc1: conv(channels, s),
            fc2: conv(s, channels),
        }
    }

    /// The per-channel gate in [0, 1]: `[N, C, H, W]` → `[N, C, 1, 1]`.
    pub fn gate(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let pooled = x.mean_dim(3).mean_dim(2); // [N, C, 1, 1]
        let s = relu(conv2d(&self.fc1, pooled)); // [N, S, 1, 1]
        h_sigmoid(conv2d(&self.fc2, s)) // [N, C, 1, 1]
    }

    /// `[N, C, H, W]` → `[N, C, H, W]`, each channel scaled by its gate.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let g = self.gate(x.clone()); // [N, C, 1, 1]
        x * g
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::Distribution;

    type B = NdArray<f32>;

    #[test]
    fn squeeze_widths_follow_make_divisible() {
        // MobileNetV3-Large SE widths: exp 72 → 24, 120 → 32, 480 → 120, 672 → 168, 960 → 240.
        for (c, s) in [
            (72, 24),
            (120, 32),
            (480, 120),
            (672, 168),
            (960, 240),
            (16, 8),
        ] {
            assert_eq!(squeeze_channels(c), s, "channels {c}");
        }
    }

    #[test]
    fn gate_in_unit_interval_and_shape_kept() {
        let dev = Default::default();
        B::seed(&dev, 3);
        let se = SqueezeExcite::<B>::new(24, &dev);
        // Large inputs push the gate into both saturated ends.
        let x = Tensor::<B, 4>::random([4, 24, 7, 5], Distribution::Normal(0.0, 30.0), &dev);
        let g = se.gate(x.clone());
        assert_eq!(g.dims(), [4, 24, 1, 1]);
        let v = g.into_data().to_vec::<f32>().unwrap();
        assert!(v.iter().all(|&a| (0.0..=1.0).contains(&a)), "{v:?}");
        assert_eq!(se.forward(x).dims(), [4, 24, 7, 5]);
    }
}
