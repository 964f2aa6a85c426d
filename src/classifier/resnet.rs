//! The ResNet option (He et al. 2016): basic blocks of two 3×3 conv + BN with a shortcut that is
//! the identity, or a 1×1 projection (stride s) + BN when the stride or the width changes.
//! ResNet-18 layout (2 blocks in each of 4 stages, widths 64/128/256/512 × width multiplier,
//! doubling as the resolution halves). The ImageNet stem (7×7 stride 2 + max-pool) is replaced by a
//! 3×3 stride-2 conv for piano rolls, and strides follow [`plan_stride_min`] as in MobileNetV3.
//!
//! With `factorized`, the projection shortcut of a downsampling block is an ENAS factorized
//! reduction instead of the strided 1×1 conv (which reads only one pixel in four).

use super::activation::Act;
use super::conv_bn::{out_size, plan_stride_min, BnSettings, ConvBnAct};
use super::factorized_reduction::FactorizedReduction;
use super::width::make_divisible;
use burn::module::{Initializer, Module};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{backend::Backend, Tensor};

/// ResNet-18 stage widths at width 1 and blocks per stage.
pub const WIDTHS: [usize; 4] = [64, 128, 256, 512];
pub const BLOCKS: [usize; 4] = [2, 2, 2, 2];

// Built once per network; boxing a variant would hide it from burn's Module derive.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Shortcut<B: Backend> {
    Projection(ConvBnAct<B>),
    Factorized(FactorizedReduction<B>),
}

/// conv 3×3 (stride s) + BN + ReLU → conv 3×3 + BN → + shortcut → ReLU.
#[derive(Module, Debug)]
pub struct BasicBlock<B: Backend> {
    pub conv1: ConvBnAct<B>,
    pub conv2: ConvBnAct<B>,
    /// None = identity.
    pub shortcut: Option<Shortcut<B>>,
}

impl<B: Backend> BasicBlock<B> {
    pub fn new(
        c_in: usize,
        c_out: usize,
        stride: [usize; 2],
        factorized: bool,
        bn: BnSettings,
        device: &B::Device,
    ) -> Self {
        let shortcut = (stride != [1, 1] || c_in != c_out).then(|| {
            if factorized {
                Shortcut::Factorized(FactorizedReduction::new(c_in, c_out, stride, bn, device))
            } else {
                Shortcut::Projection(ConvBnAct::new(
                    c_in,
                    c_out,
                    1,
                    stride,
                    1,
                    Act::Identity,
                    bn,
                    device,
                ))
            }
        });
        BasicBlock {
            conv1: ConvBnAct::new(c_in, c_out, 3, stride, 1, Act::Relu, bn, device),
            conv2: ConvBnAct::new(c_out, c_out, 3, [1, 1], 1, Act::Identity, bn, device),
            shortcut,
        }
    }

    /// `[N, C_in, H, W]` → `[N, C_out, ⌈H/s_h⌉, ⌈W/s_w⌉]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let y = self.conv2.forward(self.conv1.forward(x.clone())); // [N, C_out, H', W']
        let s = match &self.shortcut {
            None => x,
            Some(Shortcut::Projection(p)) => p.forward(x), // [N, C_out, H', W']
            Some(Shortcut::Factorized(f)) => f.forward(x), // [N, C_out, H', W']
        };
        relu(y + s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ResNetConfig {
    pub width: f64,
    pub in_channels: usize,
    pub num_classes: usize,
    pub input: [usize; 2],
    pub min_time: usize,
    /// Row floor of the strides (1 for melodies; see `plan_stride_min`).
    pub min_rows: usize,
    pub factorized: bool,
    pub dropout: f64,
    pub bn: BnSettings,
}

#[derive(Module, Debug)]
pub struct ResNet<B: Backend> {
    pub stem: ConvBnAct<B>,
    pub blocks: Vec<BasicBlock<B>>,
    pub dropout: Dropout,
    pub fc: Linear<B>,
}

impl<B: Backend> ResNet<B> {
    pub fn new(cfg: &ResNetConfig, device: &B::Device) -> Self {
        let widths: Vec<usize> = WIDTHS
            .iter()
            .map(|&w| make_divisible(w as f64 * cfg.width, 8))
            .collect();
        let stem_stride = plan_stride_min(2, cfg.input, [cfg.min_rows, cfg.min_time]);
        let mut size = [
            out_size(cfg.input[0], stem_stride[0]),
            out_size(cfg.input[1], stem_stride[1]),
        ];
        let stem = ConvBnAct::new(
            cfg.in_channels,
            widths[0],
            3,
            stem_stride,
            1,
            Act::Relu,
            cfg.bn,
            device,
        );
        let mut blocks = Vec::new();
        let mut c_in = widths[0];
        for (stage, (&w, &n)) in widths.iter().zip(BLOCKS.iter()).enumerate() {
            for i in 0..n {
                let paper_stride = if stage > 0 && i == 0 { 2 } else { 1 };
                let stride = plan_stride_min(paper_stride, size, [cfg.min_rows, cfg.min_time]);
                blocks.push(BasicBlock::new(
                    c_in,
                    w,
                    stride,
                    cfg.factorized,
                    cfg.bn,
                    device,
                ));
                size = [out_size(size[0], stride[0]), out_size(size[1], stride[1])];
                c_in = w;
            }
        }
        ResNet {
            stem,
            blocks,
            dropout: DropoutConfig::new(cfg.dropout).init(),
            fc: LinearConfig::new(c_in, cfg.num_classes)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.01,
                })
                .init(device),
        }
    }

    /// `[N, C, P, T]` → `[N, K]` logits.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut y = self.stem.forward(x); // [N, 64α, P/2, T/2]
        for blk in &self.blocks {
            y = blk.forward(y); // [N, C_i, P_i, T_i]
        }
        let pooled = y.mean_dim(3).mean_dim(2).flatten::<2>(1, 3); // [N, 512α]
        self.fc.forward(self.dropout.forward(pooled)) // [N, K]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;
    const BN: BnSettings = BnSettings {
        momentum: 0.1,
        epsilon: 1e-5,
    };

    #[test]
    fn basic_block_shapes() {
        let dev = Default::default();
        let x = Tensor::<B, 4>::ones([2, 16, 22, 8], &dev);
        let b = BasicBlock::<B>::new(16, 16, [1, 1], false, BN, &dev);
        assert!(b.shortcut.is_none());
        assert_eq!(b.forward(x.clone()).dims(), [2, 16, 22, 8]);
        let b = BasicBlock::<B>::new(16, 32, [2, 2], false, BN, &dev);
        assert!(matches!(b.shortcut, Some(Shortcut::Projection(_))));
        assert_eq!(b.forward(x.clone()).dims(), [2, 32, 11, 4]);
        let b = BasicBlock::<B>::new(16, 32, [2, 1], true, BN, &dev);
        assert!(matches!(b.shortcut, Some(Shortcut::Factorized(_))));
        assert_eq!(b.forward(x.clone()).dims(), [2, 32, 11, 8]);
        let b = BasicBlock::<B>::new(16, 24, [1, 1], false, BN, &dev);
        assert_eq!(b.forward(x).dims(), [2, 24, 22, 8]);
    }

    #[test]
    fn resnet_shapes() {
        let dev = Default::default();
        for fr in [false, true] {
            let cfg = ResNetConfig {
                width: 0.25,
                in_channels: 2,
                num_classes: 5,
                input: [88, 64],
                min_time: 4,
                min_rows: 1,
                factorized: fr,
                dropout: 0.0,
                bn: BN,
            };
            let m = ResNet::<B>::new(&cfg, &dev);
            assert_eq!(m.blocks.len(), 8);
            let x = Tensor::<B, 4>::zeros([3, 2, 88, 64], &dev);
            assert_eq!(m.forward(x).dims(), [3, 5]);
        }
    }
}
