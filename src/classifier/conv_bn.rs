//! Convolution + BatchNorm + activation, the basic unit of MobileNetV3 and the ResNet option.
//! Convolutions followed by BN carry no bias (as torchvision); weights are Kaiming-normal on fan-out.

use super::activation::Act;
use burn::module::{Initializer, Module};
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::{BatchNorm, BatchNormConfig, PaddingConfig2d};
use burn::tensor::{backend::Backend, Tensor};

/// BatchNorm settings (PyTorch momentum convention, which burn 0.21 follows:
/// `running = running·(1 − m) + batch·m`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BnSettings {
    pub momentum: f64,
    pub epsilon: f64,
}

impl BnSettings {
    pub fn init<B: Backend>(&self, channels: usize, device: &B::Device) -> BatchNorm<B> {
        BatchNormConfig::new(channels)
            .with_momentum(self.momentum)
            .with_epsilon(self.epsilon)
            .init(device)
    }
}

/// Kaiming-normal on fan-out (torchvision's `kaiming_normal_(mode="fan_out")` for convs).
pub fn conv_init() -> Initializer {
    Initializer::KaimingNormal {
        gain: std::f64::consts::SQRT_2,
        fan_out_only: true,
    }
}

/// k×k convolution (stride per axis, `groups` = channels for depthwise), no bias, "same" padding
/// `(k − 1) / 2` on each side.
pub fn conv_no_bias<B: Backend>(
    c_in: usize,
    c_out: usize,
    kernel: usize,
    stride: [usize; 2],
    groups: usize,
    device: &B::Device,
) -> Conv2d<B> {
    let p = (kernel - 1) / 2;
    Conv2dConfig::new([c_in, c_out], [kernel, kernel])
        .with_stride(stride)
        .with_groups(groups)
        .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
        .with_bias(false)
        .with_initializer(conv_init())
        .init(device)
}

/// conv k×k → BN → activation.
#[derive(Module, Debug)]
pub struct ConvBnAct<B: Backend> {
    pub conv: Conv2d<B>,
    pub bn: BatchNorm<B>,
    pub act: Act,
}

impl<B: Backend> ConvBnAct<B> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        c_in: usize,
        c_out: usize,
        kernel: usize,
        stride: [usize; 2],
        groups: usize,
        act: Act,
        bn: BnSettings,
        device: &B::Device,
    ) -> Self {
        ConvBnAct {
            conv: conv_no_bias(c_in, c_out, kernel, stride, groups, device),
            bn: bn.init(c_out, device),
            act,
        }
    }

    /// `[N, C_in, H, W]` → `[N, C_out, ⌈H/s_h⌉, ⌈W/s_w⌉]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let y = super::conv_ops::conv2d(&self.conv, x); // [N, C_out, H', W']
        self.act.apply(self.bn.forward(y))
    }
}

/// Spatial size after a "same"-padded k×k convolution with stride s: ⌈n / s⌉.
pub fn out_size(n: usize, stride: usize) -> usize {
    n.div_ceil(stride)
}

/// Per-axis stride of a downsampling layer (the paper's s = 2) on a `[pitch, time]` map.
///
/// The ImageNet tables halve both axes five times; a 2-bar roll has only 32 time steps, which five
/// halvings would collapse to 1. So the pitch axis is always halved (while > 1) and the time axis
/// only while the result keeps at least `min_time` steps (32 → 16 → 8 → 4 → 4 → 4 for
/// `min_time` = 4; a 16-bar roll 256 → 128 → 64 → 32 → 16 → 8).
pub fn plan_stride(paper_stride: usize, size: [usize; 2], min_time: usize) -> [usize; 2] {
    plan_stride_min(paper_stride, size, [1, min_time])
}

/// [`plan_stride`] with a floor on both axes, `min = [rows, steps]`: an axis is halved only while
/// `size / 2 >= min` on it. `min = [1, min_time]` is [`plan_stride`] (halve the rows while > 1).
/// A 9-row drum roll with `min[0] = 4` is halved once (9 → 5) and keeps 5 rows after that.
pub fn plan_stride_min(paper_stride: usize, size: [usize; 2], min: [usize; 2]) -> [usize; 2] {
    if paper_stride == 1 {
        return [1, 1];
    }
    let sh = if size[0] / 2 >= min[0].max(1) { 2 } else { 1 };
    let sw = if size[1] / 2 >= min[1].max(1) { 2 } else { 1 };
    [sh, sw]
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;
    const BN: BnSettings = BnSettings {
        momentum: 0.1,
        epsilon: 1e-3,
    };

    #[test]
    fn shapes_for_strides_and_depthwise() {
        let dev = Default::default();
        let x = Tensor::<B, 4>::ones([2, 8, 11, 5], &dev);
        let c = ConvBnAct::<B>::new(8, 16, 3, [2, 2], 1, Act::HSwish, BN, &dev);
        assert_eq!(c.forward(x.clone()).dims(), [2, 16, 6, 3]);
        let dw = ConvBnAct::<B>::new(8, 8, 5, [2, 1], 8, Act::Relu, BN, &dev);
        assert_eq!(dw.forward(x.clone()).dims(), [2, 8, 6, 5]);
        assert_eq!(dw.conv.weight.dims(), [8, 1, 5, 5]);
        let pw = ConvBnAct::<B>::new(8, 4, 1, [1, 1], 1, Act::Identity, BN, &dev);
        assert_eq!(pw.forward(x).dims(), [2, 4, 11, 5]);
        assert_eq!(out_size(11, 2), 6);
    }

    #[test]
    fn time_stride_is_capped() {
        let mut size = [88, 32];
        let mut seen = vec![];
        for _ in 0..5 {
            let s = plan_stride(2, size, 4);
            size = [out_size(size[0], s[0]), out_size(size[1], s[1])];
            seen.push(size);
        }
        assert_eq!(seen, vec![[44, 16], [22, 8], [11, 4], [6, 4], [3, 4]]);
        assert_eq!(plan_stride(1, [88, 32], 4), [1, 1]);
        assert_eq!(plan_stride(2, [1, 256], 4), [1, 2]);
    }

    #[test]
    fn row_floor_for_drum_rolls() {
        // The melody rule is the floor 1: identical for every row count.
        for rows in 1..200 {
            assert_eq!(
                plan_stride_min(2, [rows, 32], [1, 4]),
                plan_stride(2, [rows, 32], 4)
            );
        }
        let walk = |min_rows: usize| {
            let mut size = [9, 32];
            let mut seen = vec![];
            for _ in 0..5 {
                let s = plan_stride_min(2, size, [min_rows, 4]);
                size = [out_size(size[0], s[0]), out_size(size[1], s[1])];
                seen.push(size);
            }
            seen
        };
        // 9 drum rows: without a floor they end as one row (never zero); with 4, as five.
        assert_eq!(walk(1), vec![[5, 16], [3, 8], [2, 4], [1, 4], [1, 4]]);
        assert_eq!(walk(4), vec![[5, 16], [5, 8], [5, 4], [5, 4], [5, 4]]);
    }
}
