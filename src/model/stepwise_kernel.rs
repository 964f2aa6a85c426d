//! Stepwise (free-running) decoding of one [`CoreDecoder`](super::decoder::CoreDecoder) on host
//! memory: the CPU kernel behind generation, free-running evaluation and the token-choosing first
//! pass of scheduled-sampling training. Per-step burn ops (a dozen small tensors a step, each with
//! its own allocation and dispatch) become one loop over plain slices: the token's input
//! projection is a row lookup (the input is one-hot or a drum roll), the recurrent and output
//! products are `gemm` calls, the gate arithmetic is the fused pass of the training kernel, and the
//! next token is chosen in place. Batch rows are independent, so each thread runs the whole time
//! loop over its own rows.
//!
//! It computes what the per-step graph computes (same operations, same order of the token
//! choice, first maximum on ties as burn's `argmax`), up to the rounding of the matrix products and
//! of the fast `exp` of the gate arithmetic: `decoder::tests` checks tokens and logits against it.

use super::lstm_kernel::gates_forward;
use super::panels::Operand;
use rayon::prelude::*;

/// One LSTM layer's weights, row-major.
#[derive(Debug, Clone, Copy)]
pub struct Layer<'a> {
    /// `[d_in, 4H]` (unused for the first layer: see [`Decode::token_w`] and [`Decode::cond_proj`]).
    pub w_ih: &'a [f32],
    /// `[4H]` (folded into [`Decode::cond_proj`] for the first layer).
    pub bias: &'a [f32],
    /// `[H, 4H]`
    pub w_hh: &'a [f32],
    pub hidden: usize,
}

/// One output track.
#[derive(Debug, Clone, Copy)]
pub struct Track<'a> {
    /// Number of token classes (its slice of the logits).
    pub depth: usize,
    /// Width of its slice of the decoder input.
    pub width: usize,
    /// `[depth, width]` input encoding of each token; None = one-hot (`width == depth`).
    pub table: Option<&'a [f32]>,
    /// `[N, T, depth]` Gumbel noise (used at temperature > 0).
    pub gumbel: Option<&'a [f32]>,
}

/// Everything one stepwise decode reads.
#[derive(Debug, Clone)]
pub struct Decode<'a> {
    pub n: usize,
    pub steps: usize,
    pub in_width: usize,
    /// `[N, 4H₀]`: the time-constant part of the first layer's projection (conditioning · W + b).
    pub cond_proj: &'a [f32],
    /// `[in_width, 4H₀]`: the first layer's input weights of the previous-token part.
    pub token_w: &'a [f32],
    pub layers: Vec<Layer<'a>>,
    /// `[N, Σ 2H]` initial states in TF's order (c₀, h₀, c₁, h₁, …).
    pub init: &'a [f32],
    /// `[H_top, out]` and `[out]`.
    pub out_w: &'a [f32],
    pub out_b: &'a [f32],
    /// `[N, in_width]` first input.
    pub first: &'a [f32],
    /// `[N, T, in_width]` true inputs (teacher forcing where `mask` is 0 or absent).
    pub truth: Option<&'a [f32]>,
    /// `[N, T]` 1 where the model's own sample is fed instead of the truth.
    pub mask: Option<&'a [f32]>,
    pub tracks: Vec<Track<'a>>,
    pub temperature: f32,
    pub forget_bias: f32,
}

/// What a stepwise decode produces.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// `[N, T, out]`
    pub logits: Vec<f32>,
    /// Per track `[N, T]`: the chosen tokens.
    pub tokens: Vec<Vec<i64>>,
    /// `[N, T, in_width]`: the input fed at every step.
    pub fed: Vec<f32>,
}

impl Decode<'_> {
    fn out_width(&self) -> usize {
        self.out_b.len()
    }

    fn check(&self) {
        let (n, t, w) = (self.n, self.steps, self.in_width);
        let h0 = self.layers.first().map(|l| l.hidden).unwrap_or(0);
        assert!(h0 > 0, "a decoder has at least one LSTM layer");
        assert_eq!(self.cond_proj.len(), n * 4 * h0, "cond_proj shape");
        assert_eq!(self.token_w.len(), w * 4 * h0, "token_w shape");
        let state: usize = self.layers.iter().map(|l| 2 * l.hidden).sum();
        assert_eq!(self.init.len(), n * state, "initial state shape");
        for (i, l) in self.layers.iter().enumerate() {
            assert_eq!(l.w_hh.len(), l.hidden * 4 * l.hidden, "w_hh shape");
            if i > 0 {
                let d = self.layers[i - 1].hidden;
                assert_eq!(l.w_ih.len(), d * 4 * l.hidden, "w_ih shape");
                assert_eq!(l.bias.len(), 4 * l.hidden, "bias shape");
            }
        }
        let top = self.layers.last().map(|l| l.hidden).unwrap_or(0);
        assert_eq!(
            self.out_w.len(),
            top * self.out_width(),
            "output weight shape"
        );
        assert_eq!(self.first.len(), n * w, "first input shape");
        if let Some(tr) = self.truth {
            assert_eq!(tr.len(), n * t * w, "truth shape");
        }
        if let Some(m) = self.mask {
            assert_eq!(m.len(), n * t, "mask shape");
        }
        let (depths, widths) = self
            .tracks
            .iter()
            .fold((0, 0), |(d, w), tr| (d + tr.depth, w + tr.width));
        assert_eq!(
            depths,
            self.out_width(),
            "track depths add up to the output"
        );
        assert_eq!(widths, w, "track widths add up to the input");
        for tr in &self.tracks {
            match tr.table {
                Some(tab) => assert_eq!(tab.len(), tr.depth * tr.width, "table shape"),
                None => assert_eq!(tr.depth, tr.width, "one-hot track"),
            }
            if let Some(g) = tr.gumbel {
                assert_eq!(g.len(), n * t * tr.depth, "gumbel shape");
            }
        }
    }
}

/// Run the decode: all rows, split over the rayon threads.
pub fn decode(d: &Decode) -> Decoded {
    d.check();
    let (n, t, w, out) = (d.n, d.steps, d.in_width, d.out_width());
    let threads = rayon::current_num_threads().clamp(1, n.max(1));
    let per = n.div_ceil(threads).max(1);
    let parts: Vec<(usize, usize)> = (0..n).step_by(per).map(|f| (f, per.min(n - f))).collect();
    let panels = StepPanels::new(d, per);
    let chunks: Vec<Decoded> = parts
        .par_iter()
        .map(|&(first, rows)| decode_rows(d, &panels, first, rows))
        .collect();
    let mut all = Decoded {
        logits: Vec::with_capacity(n * t * out),
        tokens: vec![Vec::with_capacity(n * t); d.tracks.len()],
        fed: Vec::with_capacity(n * t * w),
    };
    for c in chunks {
        all.logits.extend_from_slice(&c.logits);
        all.fed.extend_from_slice(&c.fed);
        for (a, b) in all.tokens.iter_mut().zip(&c.tokens) {
            a.extend_from_slice(b);
        }
    }
    all
}

/// The weights every step multiplies by (read once per step by every thread), as column panels
/// where the products have enough rows.
struct StepPanels<'a> {
    /// Per layer: `W_ih` `[H_{i-1}, 4H_i]` (None for the first layer) and `W_hh` `[H_i, 4H_i]`.
    layers: Vec<(Option<Operand<'a>>, Operand<'a>)>,
    /// `[H_top, out]`
    out_w: Operand<'a>,
}

impl<'a> StepPanels<'a> {
    /// For products of `rows` rows (one thread's slice of the batch).
    fn new(d: &Decode<'a>, rows: usize) -> Self {
        let layers = d
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let g4 = 4 * l.hidden;
                let w_ih = (i > 0).then(|| {
                    let d_in = d.layers[i - 1].hidden;
                    Operand::new(l.w_ih, (d_in, g4), rows)
                });
                (w_ih, Operand::new(l.w_hh, (l.hidden, g4), rows))
            })
            .collect();
        let top = d.layers[d.layers.len() - 1].hidden;
        let out = d.out_width();
        StepPanels {
            layers,
            out_w: Operand::new(d.out_w, (top, out), rows),
        }
    }
}

/// Rows `first..first + rows` through all steps, on this thread.
fn decode_rows(d: &Decode, panels: &StepPanels, first: usize, rows: usize) -> Decoded {
    let (t_len, w, out) = (d.steps, d.in_width, d.out_width());
    let g0 = 4 * d.layers[0].hidden;
    let state_w: usize = d.layers.iter().map(|l| 2 * l.hidden).sum();
    // Per layer: c and h `[rows, H]` (current, next), gate buffer and input projection `[rows, 4H]`.
    let mut c: Vec<Vec<f32>> = Vec::new();
    let mut h: Vec<Vec<f32>> = Vec::new();
    let mut off = 0;
    for l in &d.layers {
        let (mut cl, mut hl) = (vec![0.0; rows * l.hidden], vec![0.0; rows * l.hidden]);
        for r in 0..rows {
            let s = &d.init[(first + r) * state_w..(first + r + 1) * state_w];
            cl[r * l.hidden..(r + 1) * l.hidden].copy_from_slice(&s[off..off + l.hidden]);
            hl[r * l.hidden..(r + 1) * l.hidden]
                .copy_from_slice(&s[off + l.hidden..off + 2 * l.hidden]);
        }
        off += 2 * l.hidden;
        c.push(cl);
        h.push(hl);
    }
    let mut c_next: Vec<Vec<f32>> = c.iter().map(|v| vec![0.0; v.len()]).collect();
    let mut h_next: Vec<Vec<f32>> = h.iter().map(|v| vec![0.0; v.len()]).collect();
    let mut gates: Vec<Vec<f32>> = d
        .layers
        .iter()
        .map(|l| vec![0.0; rows * 4 * l.hidden])
        .collect();
    let mut xp: Vec<Vec<f32>> = d
        .layers
        .iter()
        .map(|l| vec![0.0; rows * 4 * l.hidden])
        .collect();
    let mut input = d.first[first * w..(first + rows) * w].to_vec(); // [rows, in_width]
    let mut sampled = vec![0.0f32; rows * w]; // [rows, in_width]
    let mut logits = vec![0.0f32; rows * t_len * out]; // [rows, T, out]
    let mut fed = vec![0.0f32; rows * t_len * w]; // [rows, T, in_width]
    let mut tokens: Vec<Vec<i64>> = vec![vec![0; rows * t_len]; d.tracks.len()];
    let top = d.layers.len() - 1;
    for t in 0..t_len {
        for r in 0..rows {
            fed[(r * t_len + t) * w..(r * t_len + t + 1) * w]
                .copy_from_slice(&input[r * w..(r + 1) * w]);
        }
        // First layer's projected input: conditioning part + the rows of the nonzero inputs.
        for r in 0..rows {
            let x = &mut xp[0][r * g0..(r + 1) * g0];
            x.copy_from_slice(&d.cond_proj[(first + r) * g0..(first + r + 1) * g0]);
            for (j, &v) in input[r * w..(r + 1) * w].iter().enumerate() {
                if v != 0.0 {
                    for (a, &b) in x.iter_mut().zip(&d.token_w[j * g0..(j + 1) * g0]) {
                        *a += v * b;
                    }
                }
            }
        }
        for (i, l) in d.layers.iter().enumerate() {
            let (hd, g4) = (l.hidden, 4 * l.hidden);
            if i > 0 {
                // x = h_{i-1}(t) · W_ih + b
                let x = &mut xp[i];
                for r in 0..rows {
                    x[r * g4..(r + 1) * g4].copy_from_slice(l.bias);
                }
                let d_in = d.layers[i - 1].hidden;
                if let Some(w_ih) = &panels.layers[i].0 {
                    w_ih.product(rows, x, g4, true, &h_next[i - 1], d_in);
                }
            }
            panels.layers[i]
                .1
                .product(rows, &mut gates[i], g4, false, &h[i], hd);
            gates_forward(
                hd,
                &mut gates[i],
                &xp[i],
                g4,
                &c[i],
                &mut c_next[i],
                &mut h_next[i],
                d.forget_bias,
            );
        }
        std::mem::swap(&mut c, &mut c_next);
        std::mem::swap(&mut h, &mut h_next);
        // Output layer, written in place: logits[r, t, :] = b + h_top · W_out.
        for r in 0..rows {
            logits[(r * t_len + t) * out..(r * t_len + t + 1) * out].copy_from_slice(d.out_b);
        }
        let hd = d.layers[top].hidden;
        panels
            .out_w
            .product(rows, &mut logits[t * out..], t_len * out, true, &h[top], hd);
        // Choose each track's token and encode it as the next input.
        sampled.fill(0.0);
        let (mut lo, mut wo) = (0, 0);
        for (k, tr) in d.tracks.iter().enumerate() {
            for r in 0..rows {
                let l = &logits[(r * t_len + t) * out + lo..(r * t_len + t) * out + lo + tr.depth];
                let noise = match tr.gumbel {
                    Some(g) if d.temperature > 0.0 => {
                        let at = ((first + r) * t_len + t) * tr.depth;
                        Some(&g[at..at + tr.depth])
                    }
                    _ => None,
                };
                let tok = choose(l, noise, d.temperature);
                tokens[k][r * t_len + t] = tok as i64;
                let dst = &mut sampled[r * w + wo..r * w + wo + tr.width];
                match tr.table {
                    Some(tab) => dst.copy_from_slice(&tab[tok * tr.width..(tok + 1) * tr.width]),
                    None => dst[tok] = 1.0,
                }
            }
            lo += tr.depth;
            wo += tr.width;
        }
        let next = t + 1;
        match (d.truth, d.mask) {
            (Some(tr), Some(m)) if next < t_len => {
                for r in 0..rows {
                    let mv = m[(first + r) * t_len + next];
                    let truth = &tr[((first + r) * t_len + next) * w..][..w];
                    for ((x, &s), &y) in input[r * w..(r + 1) * w]
                        .iter_mut()
                        .zip(&sampled[r * w..(r + 1) * w])
                        .zip(truth)
                    {
                        *x = s * mv + y * (-mv + 1.0);
                    }
                }
            }
            (Some(tr), None) if next < t_len => {
                for r in 0..rows {
                    input[r * w..(r + 1) * w]
                        .copy_from_slice(&tr[((first + r) * t_len + next) * w..][..w]);
                }
            }
            _ => input.copy_from_slice(&sampled),
        }
    }
    Decoded {
        logits,
        tokens,
        fed,
    }
}

/// The chosen token: argmax of `logits / temperature + gumbel` (of `logits` without noise), the
/// first maximum on ties.
fn choose(logits: &[f32], gumbel: Option<&[f32]>, temperature: f32) -> usize {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (j, &l) in logits.iter().enumerate() {
        let s = match gumbel {
            Some(g) => l / temperature + g[j],
            None => l,
        };
        if j == 0 || s > best.1 {
            best = (j, s);
        }
    }
    best.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choose_takes_the_first_maximum_and_adds_scaled_noise() {
        assert_eq!(choose(&[1.0, 3.0, 3.0, 2.0], None, 0.0), 1);
        // 1/0.5 + 0 = 2 < 3/0.5 − 5 = 1? no: 2 > 1, so class 0 wins with this noise.
        assert_eq!(choose(&[1.0, 3.0], Some(&[0.0, -5.0]), 0.5), 0);
        assert_eq!(choose(&[1.0, 3.0], Some(&[0.0, -3.0]), 0.5), 1);
    }
}
