//! MobileNetV3-Small and -Large (Howard et al., "Searching for MobileNetV3", ICCV 2019), exactly
//! per the paper's Tables 1 and 2 (= TF slim `V3_LARGE`/`V3_SMALL` = torchvision), scaled by a width
//! multiplier through `make_divisible(c · α, 8)` (torchvision also scales the 1280/1024 head).
//!
//! Changes for piano rolls (documented, deliberate):
//! - the input has 1 or 2 channels (sounding notes, onsets; drum hits) instead of RGB;
//! - every stride-2 layer halves the pitch axis, but the time axis only while it keeps at least
//!   `min_time` steps ([`plan_stride_min`]); the ImageNet strides would collapse a 2-bar roll's
//!   32 steps to 1. The row axis is halved while it keeps at least `min_rows` rows: 1 for the
//!   88-row melody roll (88 → 3), 4 for the 9-row drum roll (9 → 5, then kept), which with the
//!   melody rule would end as a single row after the fourth stride (never zero: sizes are ⌈n/2⌉);
//! - optionally (`factorized`), strided bottlenecks downsample with an ENAS factorized reduction
//!   in place of the strided depthwise conv (the 3×3 stride-2 stem conv is kept).

use super::activation::Act;
use super::conv_bn::{out_size, plan_stride_min, BnSettings, ConvBnAct};
use super::inverted_residual::{InvertedResidual, InvertedResidualConfig};
use super::width::make_divisible;
use burn::module::{Initializer, Module};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig};
use burn::tensor::{backend::Backend, Tensor};
use serde::{Deserialize, Serialize};

/// One row of a bottleneck table: kernel, expansion size, output channels, SE, NL, stride.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bneck {
    pub kernel: usize,
    pub exp: usize,
    pub out: usize,
    pub se: bool,
    pub act: Act,
    pub stride: usize,
}

const fn b(kernel: usize, exp: usize, out: usize, se: bool, hs: bool, stride: usize) -> Bneck {
    Bneck {
        kernel,
        exp,
        out,
        se,
        act: if hs { Act::HSwish } else { Act::Relu },
        stride,
    }
}

const SE: bool = true;
const NO: bool = false;
const HS: bool = true;
const RE: bool = false;

/// Paper Table 1 (MobileNetV3-Large), after the 3×3 stride-2 stem conv to 16 channels (h-swish).
pub const LARGE: [Bneck; 15] = [
    b(3, 16, 16, NO, RE, 1),
    b(3, 64, 24, NO, RE, 2),
    b(3, 72, 24, NO, RE, 1),
    b(5, 72, 40, SE, RE, 2),
    b(5, 120, 40, SE, RE, 1),
    b(5, 120, 40, SE, RE, 1),
    b(3, 240, 80, NO, HS, 2),
    b(3, 200, 80, NO, HS, 1),
    b(3, 184, 80, NO, HS, 1),
    b(3, 184, 80, NO, HS, 1),
    b(3, 480, 112, SE, HS, 1),
    b(3, 672, 112, SE, HS, 1),
    b(5, 672, 160, SE, HS, 2),
    b(5, 960, 160, SE, HS, 1),
    b(5, 960, 160, SE, HS, 1),
];

/// Paper Table 2 (MobileNetV3-Small), after the 3×3 stride-2 stem conv to 16 channels (h-swish).
pub const SMALL: [Bneck; 11] = [
    b(3, 16, 16, SE, RE, 2),
    b(3, 72, 24, NO, RE, 2),
    b(3, 88, 24, NO, RE, 1),
    b(5, 96, 40, SE, HS, 2),
    b(5, 240, 40, SE, HS, 1),
    b(5, 240, 40, SE, HS, 1),
    b(5, 120, 48, SE, HS, 1),
    b(5, 144, 48, SE, HS, 1),
    b(5, 288, 96, SE, HS, 2),
    b(5, 576, 96, SE, HS, 1),
    b(5, 576, 96, SE, HS, 1),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    Small,
    Large,
}

impl Variant {
    pub fn table(self) -> &'static [Bneck] {
        match self {
            Variant::Small => &SMALL,
            Variant::Large => &LARGE,
        }
    }
    /// Width of the pooled head layer (the paper's "conv2d 1×1, NBN" after the pool).
    pub fn head(self) -> usize {
        match self {
            Variant::Small => 1024,
            Variant::Large => 1280,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct MobileNetV3Config {
    pub variant: Variant,
    pub width: f64,
    pub in_channels: usize,
    pub num_classes: usize,
    /// Input map `[pitch rows, time steps]`.
    pub input: [usize; 2],
    pub min_time: usize,
    /// Row floor of the strides (1 for melodies; see `plan_stride_min`).
    pub min_rows: usize,
    pub factorized: bool,
    pub dropout: f64,
    pub bn: BnSettings,
}

#[derive(Module, Debug)]
pub struct MobileNetV3<B: Backend> {
    pub stem: ConvBnAct<B>,
    pub blocks: Vec<InvertedResidual<B>>,
    pub last: ConvBnAct<B>,
    pub head: Linear<B>,
    pub dropout: Dropout,
    pub classifier: Linear<B>,
}

/// The bottleneck configs of a network (channels scaled, strides planned) and the final map size.
pub fn plan(
    cfg: &MobileNetV3Config,
) -> (usize, [usize; 2], Vec<InvertedResidualConfig>, [usize; 2]) {
    let adj = |c: usize| make_divisible(c as f64 * cfg.width, 8);
    let stem_out = adj(16);
    let stem_stride = plan_stride_min(2, cfg.input, [cfg.min_rows, cfg.min_time]);
    let mut size = [
        out_size(cfg.input[0], stem_stride[0]),
        out_size(cfg.input[1], stem_stride[1]),
    ];
    let mut c_in = stem_out;
    let mut blocks = Vec::new();
    for row in cfg.variant.table() {
        let stride = plan_stride_min(row.stride, size, [cfg.min_rows, cfg.min_time]);
        let c = InvertedResidualConfig {
            c_in,
            exp: adj(row.exp),
            c_out: adj(row.out),
            kernel: row.kernel,
            se: row.se,
            act: row.act,
            stride,
            factorized: cfg.factorized,
        };
        size = [out_size(size[0], stride[0]), out_size(size[1], stride[1])];
        c_in = c.c_out;
        blocks.push(c);
    }
    (stem_out, stem_stride, blocks, size)
}

impl<B: Backend> MobileNetV3<B> {
    pub fn new(cfg: &MobileNetV3Config, device: &B::Device) -> Self {
        let (stem_out, stem_stride, blocks, _) = plan(cfg);
        let stem = ConvBnAct::new(
            cfg.in_channels,
            stem_out,
            3,
            stem_stride,
            1,
            Act::HSwish,
            cfg.bn,
            device,
        );
        let last_in = blocks.last().map(|b| b.c_out).unwrap_or(stem_out);
        let last_out = 6 * last_in;
        let head_width = make_divisible(cfg.variant.head() as f64 * cfg.width, 8);
        let linear = |a, b| {
            LinearConfig::new(a, b)
                .with_initializer(Initializer::Normal {
                    mean: 0.0,
                    std: 0.01,
                })
                .init(device)
        };
        MobileNetV3 {
            stem,
            blocks: blocks
                .iter()
                .map(|c| InvertedResidual::new(c, cfg.bn, device))
                .collect(),
            last: ConvBnAct::new(last_in, last_out, 1, [1, 1], 1, Act::HSwish, cfg.bn, device),
            head: linear(last_out, head_width),
            dropout: DropoutConfig::new(cfg.dropout).init(),
            classifier: linear(head_width, cfg.num_classes),
        }
    }

    /// `[N, C, P, T]` piano rolls → `[N, K]` logits.
    pub fn forward(&self, x: Tensor<B, 4>) -> Tensor<B, 2> {
        let mut y = self.stem.forward(x); // [N, 16α, P/2, T/2]
        for blk in &self.blocks {
            y = blk.forward(y); // [N, C_i, P_i, T_i]
        }
        let y = self.last.forward(y); // [N, 6·C_last, P_f, T_f]
        let pooled = y.mean_dim(3).mean_dim(2).flatten::<2>(1, 3); // [N, 6·C_last]
        let h = super::activation::h_swish(self.head.forward(pooled)); // [N, 1024α]
        self.classifier.forward(self.dropout.forward(h)) // [N, K]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;

    type B = NdArray<f32>;

    fn cfg(variant: Variant, input: [usize; 2], factorized: bool) -> MobileNetV3Config {
        MobileNetV3Config {
            variant,
            width: 1.0,
            in_channels: 2,
            num_classes: 7,
            input,
            min_time: 4,
            min_rows: 1,
            factorized,
            dropout: 0.2,
            bn: BnSettings {
                momentum: 0.01,
                epsilon: 1e-3,
            },
        }
    }

    #[test]
    fn tables_match_the_paper() {
        assert_eq!(SMALL.len(), 11);
        assert_eq!(LARGE.len(), 15);
        assert_eq!(SMALL.iter().filter(|r| r.stride == 2).count(), 4);
        assert_eq!(LARGE.iter().filter(|r| r.stride == 2).count(), 4);
        assert_eq!(SMALL.iter().filter(|r| r.se).count(), 9);
        assert_eq!(LARGE.iter().filter(|r| r.se).count(), 8);
        assert_eq!(SMALL.last().map(|r| r.out), Some(96));
        assert_eq!(LARGE.last().map(|r| r.out), Some(160));
    }

    #[test]
    fn plan_for_a_2bar_roll() {
        let (stem, stem_stride, blocks, size) = plan(&cfg(Variant::Small, [88, 32], false));
        assert_eq!(stem, 16);
        assert_eq!(stem_stride, [2, 2]);
        let strides: Vec<[usize; 2]> = blocks.iter().map(|b| b.stride).collect();
        assert_eq!(strides[0], [2, 2]);
        assert_eq!(strides[1], [2, 2]);
        assert_eq!(strides[3], [2, 1]);
        assert_eq!(strides[8], [2, 1]);
        assert_eq!(size, [3, 4]);
        let (_, _, _, size) = plan(&cfg(Variant::Large, [128, 256], false));
        assert_eq!(size, [4, 8]);
    }

    #[test]
    fn plan_for_a_drum_roll() {
        // 9 drum rows: the melody rule ends with one row (never zero), the drum floor keeps 5.
        let mut c = cfg(Variant::Small, [9, 32], false);
        let (_, _, _, size) = plan(&c);
        assert_eq!(size, [1, 4]);
        c.min_rows = 4;
        let (_, stem_stride, blocks, size) = plan(&c);
        assert_eq!(stem_stride, [2, 2]);
        assert!(blocks.iter().all(|b| b.stride[0] == 1));
        assert_eq!(size, [5, 4]);
    }

    #[test]
    fn small_and_large_output_shapes_and_size() {
        let dev = Default::default();
        for (variant, fr) in [
            (Variant::Small, false),
            (Variant::Small, true),
            (Variant::Large, false),
        ] {
            let c = cfg(variant, [88, 32], fr);
            let m = MobileNetV3::<B>::new(&c, &dev);
            let x = Tensor::<B, 4>::zeros([2, 2, 88, 32], &dev);
            assert_eq!(m.forward(x).dims(), [2, 7], "{variant:?} fr={fr}");
            // burn's num_params also counts BN running mean and variance (torchvision buffers).
            let (_, _, blocks, _) = plan(&c);
            let bn_channels: usize = 16
                + blocks
                    .iter()
                    .map(|b| if b.exp != b.c_in { 2 * b.exp } else { b.exp } + b.c_out)
                    .sum::<usize>()
                + 6 * blocks.last().map(|b| b.c_out).unwrap_or(0);
            let n = m.num_params() - 2 * bn_channels;
            // torchvision sizes with 7 classes and a 2-channel stem: Small 1,524,887; Large
            // 4,210,855 (the 1-channel figures of classifier-facts.md + 144 stem weights).
            if !fr {
                let want = match variant {
                    Variant::Small => 1_524_743 + 144,
                    Variant::Large => 4_210_711 + 144,
                };
                assert_eq!(n, want, "{variant:?}");
            }
        }
    }
}
