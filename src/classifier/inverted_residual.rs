//! MobileNetV3 bottleneck ("bneck", the inverted residual of MobileNetV2 with optional SE):
//! 1×1 expand conv + BN + NL (skipped when exp = in) → k×k depthwise conv (stride s) + BN + NL →
//! [SE] → 1×1 projection + BN (linear) → `+ input` when s = 1 and in = out.
//!
//! With factorized reduction, a downsampling block runs its depthwise conv at stride 1 and the
//! projection becomes an ENAS factorized reduction (two offset 1×1 stride-2 paths, concatenated, BN).

use super::activation::Act;
use super::conv_bn::{BnSettings, ConvBnAct};
use super::factorized_reduction::FactorizedReduction;
use super::squeeze_excite::SqueezeExcite;
use burn::module::Module;
use burn::tensor::{backend::Backend, Tensor};

/// The projection of a bottleneck: a 1×1 conv + BN, or a factorized reduction.
// Built once per network; boxing a variant would hide it from burn's Module derive.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Projection<B: Backend> {
    Conv(ConvBnAct<B>),
    Factorized(FactorizedReduction<B>),
}

impl<B: Backend> Projection<B> {
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        match self {
            Projection::Conv(c) => c.forward(x),
            Projection::Factorized(f) => f.forward(x),
        }
    }
}

/// Channel sizes and options of one bottleneck, already scaled by the width multiplier.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InvertedResidualConfig {
    pub c_in: usize,
    pub exp: usize,
    pub c_out: usize,
    pub kernel: usize,
    pub se: bool,
    pub act: Act,
    /// Stride per axis (pitch, time).
    pub stride: [usize; 2],
    /// Downsample with a factorized reduction instead of a strided depthwise conv.
    pub factorized: bool,
}

#[derive(Module, Debug)]
pub struct InvertedResidual<B: Backend> {
    pub expand: Option<ConvBnAct<B>>,
    pub depthwise: ConvBnAct<B>,
    pub se: Option<SqueezeExcite<B>>,
    pub project: Projection<B>,
    pub residual: bool,
}

impl<B: Backend> InvertedResidual<B> {
    pub fn new(c: &InvertedResidualConfig, bn: BnSettings, device: &B::Device) -> Self {
        let expand = (c.exp != c.c_in)
            .then(|| ConvBnAct::new(c.c_in, c.exp, 1, [1, 1], 1, c.act, bn, device));
        let strided = c.stride != [1, 1];
        let fr = c.factorized && strided;
        let dw_stride = if fr { [1, 1] } else { c.stride };
        let depthwise = ConvBnAct::new(c.exp, c.exp, c.kernel, dw_stride, c.exp, c.act, bn, device);
        let se = c.se.then(|| SqueezeExcite::new(c.exp, device));
        let project = if fr {
            Projection::Factorized(FactorizedReduction::new(
                c.exp, c.c_out, c.stride, bn, device,
            ))
        } else {
            Projection::Conv(ConvBnAct::new(
                c.exp,
                c.c_out,
                1,
                [1, 1],
                1,
                Act::Identity,
                bn,
                device,
            ))
        };
        InvertedResidual {
            expand,
            depthwise,
            se,
            project,
            residual: !strided && c.c_in == c.c_out,
        }
    }

    /// `[N, C_in, H, W]` → `[N, C_out, ⌈H/s_h⌉, ⌈W/s_w⌉]`.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 4> {
        let mut y = match &self.expand {
            Some(e) => e.forward(x.clone()), // [N, exp, H, W]
            None => x.clone(),
        };
        y = self.depthwise.forward(y); // [N, exp, H', W'] (H, W with factorized reduction)
        if let Some(se) = &self.se {
            y = se.forward(y); // [N, exp, ., .]
        }
        let y = self.project.forward(y); // [N, C_out, H', W']
        if self.residual {
            y + x
        } else {
            y
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;
    const BN: BnSettings = BnSettings {
        momentum: 0.01,
        epsilon: 1e-3,
    };

    fn cfg(
        c_in: usize,
        exp: usize,
        c_out: usize,
        stride: [usize; 2],
        fr: bool,
    ) -> InvertedResidualConfig {
        InvertedResidualConfig {
            c_in,
            exp,
            c_out,
            kernel: 5,
            se: true,
            act: Act::HSwish,
            stride,
            factorized: fr,
        }
    }

    #[test]
    fn shapes_residual_and_strided() {
        let dev = Default::default();
        let x = Tensor::<B, 4>::ones([2, 16, 22, 8], &dev);
        let b = InvertedResidual::<B>::new(&cfg(16, 16, 16, [1, 1], false), BN, &dev);
        assert!(b.expand.is_none() && b.residual);
        assert_eq!(b.forward(x.clone()).dims(), [2, 16, 22, 8]);
        let b = InvertedResidual::<B>::new(&cfg(16, 72, 24, [2, 2], false), BN, &dev);
        assert!(b.expand.is_some() && !b.residual);
        assert_eq!(b.forward(x.clone()).dims(), [2, 24, 11, 4]);
        let b = InvertedResidual::<B>::new(&cfg(16, 72, 24, [2, 1], true), BN, &dev);
        assert!(matches!(b.project, Projection::Factorized(_)));
        assert_eq!(b.forward(x).dims(), [2, 24, 11, 8]);
    }
}
