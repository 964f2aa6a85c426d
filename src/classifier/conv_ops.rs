//! Convolutions expressed as matrix products and element-wise ops, for the CPU.
//!
//! burn-ndarray 0.21's direct convolution falls back to a scalar loop whenever the channels per
//! group are not a multiple of the SIMD width (always for depthwise convs, and for 24, 40, 72, 88…
//! channels), and its backward passes are slower still: measured 5.5 training windows/s for
//! MobileNetV3-Small on 2 cores. Here the same convolution (weights kept in burn's `Conv2d`
//! module, layout `[C_out, C_in/groups, k, k]`, so records are unchanged) is computed as
//! - 1×1: one batched matrix product `[C_out, C_in] × [C_in, H·W]`;
//! - k×k, groups = 1: im2col (k² shifted slices stacked) then a matrix product;
//! - depthwise (groups = C_in = C_out): the same k² shifted slices times per-channel weights,
//!   summed;
//!
//! All of which burn differentiates with matrix products, slices and sums.
//!
//! Strides use a polyphase split: the padded input is reshaped `[N, C, H/s, s, W/s, s]` once and a
//! shift `i` then reads phase `i mod s` from row `i div s` — contiguous slices only.
//! Padding is "same": `(k − 1) / 2` on each side, output `⌈H / s⌉ × ⌈W / s⌉`.

use burn::nn::conv::Conv2d;
use burn::tensor::{backend::Backend, Tensor};

/// Zero-pad `x` by `top`/`left` before and `bottom`/`right` after (rows = dim 2, columns = dim 3).
fn pad<B: Backend>(
    x: Tensor<B, 4>,
    top: usize,
    bottom: usize,
    left: usize,
    right: usize,
) -> Tensor<B, 4> {
    let [n, c, h, w] = x.dims();
    let dev = x.device();
    let mut y = x;
    if top + bottom > 0 {
        let mut parts = Vec::with_capacity(3);
        if top > 0 {
            parts.push(Tensor::zeros([n, c, top, w], &dev));
        }
        parts.push(y);
        if bottom > 0 {
            parts.push(Tensor::zeros([n, c, bottom, w], &dev));
        }
        y = Tensor::cat(parts, 2); // [N, C, top + H + bottom, W]
    }
    let hh = h + top + bottom;
    if left + right > 0 {
        let mut parts = Vec::with_capacity(3);
        if left > 0 {
            parts.push(Tensor::zeros([n, c, hh, left], &dev));
        }
        parts.push(y);
        if right > 0 {
            parts.push(Tensor::zeros([n, c, hh, right], &dev));
        }
        y = Tensor::cat(parts, 3); // [N, C, H', left + W + right]
    }
    y
}

/// The k² shifted (and strided) views of `x` a k×k "same" convolution reads, each `[N, C, Ho, Wo]`,
/// in kernel order (row-major over (i, j)).
pub fn shifted_views<B: Backend>(
    x: Tensor<B, 4>,
    kernel: usize,
    stride: [usize; 2],
) -> Vec<Tensor<B, 4>> {
    let [n, c, h, w] = x.dims();
    let [sh, sw] = stride;
    let (ho, wo) = (h.div_ceil(sh), w.div_ceil(sw));
    let p = (kernel - 1) / 2;
    // Rows needed: sh·(Ho − 1) + k, rounded up to a multiple of sh (extra rows are zeros).
    let qh = ho + (kernel - 1).div_ceil(sh);
    let qw = wo + (kernel - 1).div_ceil(sw);
    let (hp, wp) = (sh * qh, sw * qw);
    // Crop what is never read (only happens for k = 1 with stride), then pad.
    let x = if h + p > hp || w + p > wp {
        x.slice([0..n, 0..c, 0..h.min(hp - p), 0..w.min(wp - p)])
    } else {
        x
    };
    let [_, _, h2, w2] = x.dims();
    let xp = pad(x, p, hp - p - h2, p, wp - p - w2); // [N, C, sh·qh, sw·qw]
    let phases: Vec<Vec<Tensor<B, 4>>> = if sh == 1 && sw == 1 {
        vec![vec![xp]]
    } else {
        let r: Tensor<B, 6> = xp.reshape([n, c, qh, sh, qw, sw]); // [N, C, qh, sh, qw, sw]
        (0..sh)
            .map(|a| {
                (0..sw)
                    .map(|b| {
                        r.clone()
                            .slice([0..n, 0..c, 0..qh, a..a + 1, 0..qw, b..b + 1])
                            .reshape([n, c, qh, qw]) // [N, C, qh, qw]
                    })
                    .collect()
            })
            .collect()
    };
    let mut out = Vec::with_capacity(kernel * kernel);
    for i in 0..kernel {
        for j in 0..kernel {
            let (a, oi) = (i % sh, i / sh);
            let (b, oj) = (j % sw, j / sw);
            out.push(
                phases[a][b]
                    .clone()
                    .slice([0..n, 0..c, oi..oi + ho, oj..oj + wo]),
            ); // [N, C, Ho, Wo]
        }
    }
    out
}

/// `[C_out, K] × [N, K, L]` → `[N, C_out, L]` (the weight expanded over the batch, so the backward
/// pass is plain batched matrix products and a sum).
fn batched_weight_matmul<B: Backend>(w: Tensor<B, 2>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [n, _, _] = x.dims();
    let [co, k] = w.dims();
    let we: Tensor<B, 3> = w.unsqueeze::<3>().expand([n, co, k]); // [N, C_out, K]
    we.matmul(x) // [N, C_out, L]
}

/// The forward pass of `conv` (any kernel, stride 1 or 2 per axis, groups 1 or depthwise) with
/// "same" padding, as matrix products. Panics never; other group counts use burn's own conv.
pub fn conv2d<B: Backend>(conv: &Conv2d<B>, x: Tensor<B, 4>) -> Tensor<B, 4> {
    let [n, ci, h, w] = x.dims();
    let weight = conv.weight.val(); // [C_out, C_in/g, k, k]
    let [co, cig, kh, kw] = weight.dims();
    let stride = conv.stride;
    let (ho, wo) = (h.div_ceil(stride[0]), w.div_ceil(stride[1]));
    let depthwise = conv.groups == ci && co == ci && cig == 1;
    if kh != kw || kh % 2 == 0 || !(conv.groups == 1 || depthwise) || conv.dilation != [1, 1] {
        return conv.forward(x);
    }
    let k = kh;
    let mode = std::env::var("MUSICVAE_CONV").unwrap_or_default();
    let native = match mode.as_str() {
        "native" => true,
        "ours" => false,
        // burn's depthwise kernel is the fastest both ways. Its dense k×k kernel is fast forward
        // when C_out is a multiple of the SIMD width, but its backward pass is not: training a
        // ResNet-18 (width 0.25) ran at 2.3 windows/s with it and 26 with im2col (1 thread).
        _ => depthwise || (k > 1 && co % 16 == 0 && !B::ad_enabled(&x.device())),
    };
    if native {
        return conv.forward(x);
    }
    let y = if depthwise {
        let cols = Tensor::stack::<5>(shifted_views(x, k, stride), 2); // [N, C, k², Ho, Wo]
        let wk: Tensor<B, 5> = weight.reshape([1, co, k * k, 1, 1]); // [1, C, k², 1, 1]
        (cols * wk).sum_dim(2).reshape([n, co, ho, wo]) // [N, C, Ho, Wo]
    } else if k == 1 {
        let xs = shifted_views(x, 1, stride).remove(0); // [N, C_in, Ho, Wo]
        let y = batched_weight_matmul(weight.reshape([co, ci]), xs.reshape([n, ci, ho * wo])); // [N, C_out, Ho·Wo]
        y.reshape([n, co, ho, wo])
    } else {
        let cols = Tensor::stack::<5>(shifted_views(x, k, stride), 2); // [N, C_in, k², Ho, Wo]
        let cols = cols.reshape([n, ci * k * k, ho * wo]); // [N, C_in·k², Ho·Wo]
        let y = batched_weight_matmul(weight.reshape([co, ci * k * k]), cols); // [N, C_out, Ho·Wo]
        y.reshape([n, co, ho, wo])
    };
    match &conv.bias {
        Some(b) => y + b.val().reshape([1, co, 1, 1]),
        None => y,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::{Autodiff, NdArray};
    use burn::nn::conv::Conv2dConfig;
    use burn::nn::PaddingConfig2d;
    use burn::tensor::Distribution;

    type B = NdArray<f32>;

    fn close(a: Tensor<B, 4>, b: Tensor<B, 4>) {
        assert_eq!(a.dims(), b.dims());
        let (a, b) = (
            a.into_data().to_vec::<f32>().unwrap(),
            b.into_data().to_vec::<f32>().unwrap(),
        );
        let m = a
            .iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(m < 1e-4, "max difference {m}");
    }

    #[test]
    fn matches_burn_conv2d() {
        let dev = Default::default();
        B::seed(&dev, 1);
        // (c_in, c_out, k, stride, groups, bias, h, w)
        let cases = [
            (3, 5, 1, [1, 1], 1, false, 7, 6),
            (3, 5, 1, [2, 2], 1, true, 7, 6),
            (3, 4, 1, [2, 1], 1, false, 8, 5),
            (2, 6, 3, [1, 1], 1, true, 9, 8),
            (2, 6, 3, [2, 2], 1, false, 9, 8),
            (2, 6, 3, [2, 1], 1, false, 11, 4),
            (6, 6, 3, [1, 1], 6, false, 5, 4),
            (6, 6, 5, [2, 2], 6, false, 11, 8),
            (6, 6, 5, [2, 1], 6, false, 3, 4),
            (4, 4, 5, [2, 2], 4, true, 1, 1),
        ];
        for (ci, co, k, stride, g, bias, h, w) in cases {
            let p = (k - 1) / 2;
            let conv = Conv2dConfig::new([ci, co], [k, k])
                .with_stride(stride)
                .with_groups(g)
                .with_bias(bias)
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init::<B>(&dev);
            let x = Tensor::<B, 4>::random([2, ci, h, w], Distribution::Normal(0.0, 1.0), &dev);
            close(conv2d(&conv, x.clone()), conv.forward(x));
        }
    }

    #[test]
    fn gradients_match_burn_conv2d() {
        type A = Autodiff<B>;
        let dev = Default::default();
        A::seed(&dev, 2);
        for (ci, co, k, stride, g) in [
            (3, 4, 3, [2, 1], 1),
            (4, 4, 5, [2, 2], 4),
            (3, 5, 1, [2, 2], 1),
        ] {
            let p = (k - 1) / 2;
            let conv = Conv2dConfig::new([ci, co], [k, k])
                .with_stride(stride)
                .with_groups(g)
                .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                .init::<A>(&dev);
            let x = Tensor::<A, 4>::random([2, ci, 7, 6], Distribution::Normal(0.0, 1.0), &dev)
                .require_grad();
            let g1 = conv2d(&conv, x.clone()).powi_scalar(2).sum().backward();
            let g2 = conv.forward(x.clone()).powi_scalar(2).sum().backward();
            let (wa, wb) = (
                conv.weight.grad(&g1).unwrap(),
                conv.weight.grad(&g2).unwrap(),
            );
            close(
                wa.reshape([co, ci / g, k, k]),
                wb.reshape([co, ci / g, k, k]),
            );
            close(x.grad(&g1).unwrap(), x.grad(&g2).unwrap());
        }
    }
}
