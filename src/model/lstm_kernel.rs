//! The recurrence of one LSTM layer over a whole sequence, on host memory (the CPU kernel behind
//! [`super::lstm_op`]). Forward keeps what backward needs (gate activations, cell and hidden states);
//! backward is back-propagation through time: one `[B, 4H] × [4H, H]` product per step for the
//! recurrent gradient, and the recurrent-weight gradient as a single `[H, B·T] × [B·T, 4H]` product
//! over all steps. Matrix products use the `gemm` crate (runtime-detected AVX2/FMA/AVX-512 kernels,
//! rayon threads); the gate arithmetic is one fused pass per step, split over batch rows.
//!
//! Layouts (row-major): the projected input `xp = x·W_ih + b` and its gradient are batch-major
//! `[B, T, 4H]` (as the model holds them); gates are in order i, f, g, o; the packed output is
//! `[B·T + B, H]`: rows `b·T + t` are the hidden outputs at their input positions (a reversed layer
//! reads from the last step to the first, outputs stay aligned with inputs), then one row per batch
//! row with the final cell state; the outputs are a contiguous `[B, T, H]` prefix. The final hidden state is the output at the last position read.

use super::panels::{Operand, Panels};
use gemm::Parallelism;
use rayon::prelude::*;
use std::sync::Arc;

/// Sizes of one sequence run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeqDims {
    pub batch: usize,
    pub steps: usize,
    pub hidden: usize,
}

impl SeqDims {
    fn gates(&self) -> usize {
        4 * self.hidden
    }
    /// Input position read at processing step `s`.
    fn position(&self, s: usize, reverse: bool) -> usize {
        if reverse {
            self.steps - 1 - s
        } else {
            s
        }
    }
}

/// One slice of the batch, run through all steps by one thread (batch rows are independent in the
/// recurrence, so the threads never wait for each other inside the time loop).
#[derive(Debug, Clone)]
struct Chunk {
    /// First batch row and number of rows.
    first: usize,
    rows: usize,
    /// `[T, rows, 4H]` gate activations i, f, g, o, in processing order.
    gates: Vec<f32>,
    /// `[T + 1, rows, H]`: c0, then the cell state after each step.
    cells: Vec<f32>,
    /// `[T + 1, rows, H]`: h0, then the hidden state after each step.
    hiddens: Vec<f32>,
}

/// What the forward pass keeps for backward.
#[derive(Debug, Clone)]
pub struct Saved {
    pub dims: SeqDims,
    pub reverse: bool,
    /// `[H, 4H]`
    w_hh: Arc<Vec<f32>>,
    chunks: Vec<Chunk>,
}

/// Gradients of the four inputs of the recurrence.
#[derive(Debug, Clone)]
pub struct SeqGrads {
    /// `[B, T, 4H]`
    pub xp: Vec<f32>,
    /// `[H, 4H]`
    pub w_hh: Vec<f32>,
    /// `[B, H]`
    pub h0: Vec<f32>,
    /// `[B, H]`
    pub c0: Vec<f32>,
}

/// e^x for x in [-87, 88] (clamped outside), relative error ~1e-7: Cephes' polynomial after
/// range reduction, written without calls or branches so the gate loops vectorise.
#[inline(always)]
fn exp_fast(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const C1: f32 = 0.693_359_4;
    const C2: f32 = -2.121_944_4e-4;
    const ROUND: f32 = 12_582_912.0; // 1.5 · 2^23: adding and subtracting it rounds to an integer
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * C1 - n * C2;
    let mut p = 1.987_569_1e-4f32;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    // 2^n built from its exponent bits: n is an integer in [-126, 127] after the clamp, so adding
    // 2^23 + 127 leaves n + 127 in the low mantissa bits (no float → int conversion needed).
    let biased = (n + (8_388_608.0 + 127.0)).to_bits() & 0x7f_ffff;
    f32::from_bits(biased << 23) * y
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp_fast(-x))
}

#[inline(always)]
fn tanh_fast(x: f32) -> f32 {
    2.0 / (1.0 + exp_fast(-2.0 * x)) - 1.0
}

/// The four gate blocks (input, forget, cell, output) of one row of `4H` values.
#[inline(always)]
fn gate_blocks(g: &[f32], h: usize) -> [&[f32]; 4] {
    let (i, rest) = g.split_at(h);
    let (f, rest) = rest.split_at(h);
    let (c, o) = rest.split_at(h);
    [i, f, c, &o[..h]]
}

/// [`gate_blocks`], writable.
#[inline(always)]
fn gate_blocks_mut(g: &mut [f32], h: usize) -> [&mut [f32]; 4] {
    let (i, rest) = g.split_at_mut(h);
    let (f, rest) = rest.split_at_mut(h);
    let (c, o) = rest.split_at_mut(h);
    [i, f, c, &mut o[..h]]
}

/// The gate arithmetic of one step for `rows` rows: `g` holds `h·W_hh` `[rows, 4H]` on entry and the
/// activations on exit; `x` the projected inputs (row stride `x_rs`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gates_forward_body(
    h: usize,
    g: &mut [f32],
    x: &[f32],
    x_rs: usize,
    c_prev: &[f32],
    c_next: &mut [f32],
    h_next: &mut [f32],
    forget_bias: f32,
) {
    let rows = c_prev.len() / h;
    for r in 0..rows {
        let g = &mut g[r * 4 * h..(r + 1) * 4 * h];
        let x = &x[r * x_rs..r * x_rs + 4 * h];
        let cp = &c_prev[r * h..(r + 1) * h];
        let cn = &mut c_next[r * h..(r + 1) * h];
        let hn = &mut h_next[r * h..(r + 1) * h];
        let [gi, gf, gg, go] = gate_blocks_mut(g, h);
        let [xi, xf, xg, xo] = gate_blocks(x, h);
        // One simple loop per gate, then one for the state: loops over zipped slices vectorise.
        for (g, x) in gi.iter_mut().zip(xi) {
            *g = sigmoid(*g + x);
        }
        for (g, x) in gf.iter_mut().zip(xf) {
            *g = sigmoid(*g + x + forget_bias);
        }
        for (g, x) in gg.iter_mut().zip(xg) {
            *g = tanh_fast(*g + x);
        }
        for (g, x) in go.iter_mut().zip(xo) {
            *g = sigmoid(*g + x);
        }
        let gates = gi.iter().zip(gf.iter()).zip(gg.iter()).zip(go.iter());
        for ((((cn, hn), cp), ((i, f), c_in)), o) in cn
            .iter_mut()
            .zip(hn.iter_mut())
            .zip(cp)
            .zip(gates)
            .map(|(a, (ifg, o))| ((a, ifg), o))
        {
            let c = f * cp + i * c_in;
            *cn = c;
            *hn = o * tanh_fast(c);
        }
    }
}

/// The gate gradients of one step: from `dy` (gradient of this step's output, row stride `dy_rs`),
/// the recurrent `dh` and `dc` (updated in place to the gradients of the previous state) to the
/// pre-activation gradients `dg` (row stride `dg_rs`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn gates_backward_body(
    h: usize,
    g: &[f32],
    c_prev: &[f32],
    c_cur: &[f32],
    dy: &[f32],
    dy_rs: usize,
    dh: &[f32],
    dc: &mut [f32],
    dg: &mut [f32],
    dg_rs: usize,
) {
    let rows = c_prev.len() / h;
    for r in 0..rows {
        let [gi, gf, gg, go] = gate_blocks(&g[r * 4 * h..(r + 1) * 4 * h], h);
        let cp = &c_prev[r * h..(r + 1) * h];
        let cc = &c_cur[r * h..(r + 1) * h];
        let dy = &dy[r * dy_rs..r * dy_rs + h];
        let dhr = &dh[r * h..(r + 1) * h];
        let dcr = &mut dc[r * h..(r + 1) * h];
        let d = &mut dg[r * dg_rs..r * dg_rs + 4 * h];
        let [di, df, dgg, dgo] = gate_blocks_mut(d, h);
        let (go, dgo, cp, cc, dy, dhr, dcr) = (
            &go[..h],
            &mut dgo[..h],
            &cp[..h],
            &cc[..h],
            &dy[..h],
            &dhr[..h],
            &mut dcr[..h],
        );
        for j in 0..h {
            let (i, f, c_in, o) = (gi[j], gf[j], gg[j], go[j]);
            let tc = tanh_fast(cc[j]);
            let dhj = dy[j] + dhr[j];
            let dcj = dcr[j] + dhj * o * (1.0 - tc * tc);
            di[j] = dcj * c_in * i * (1.0 - i);
            df[j] = dcj * cp[j] * f * (1.0 - f);
            dgg[j] = dcj * i * (1.0 - c_in * c_in);
            dgo[j] = dhj * tc * o * (1.0 - o);
            dcr[j] = dcj * f;
        }
    }
}

/// Compiles a body twice, for AVX2 + FMA (chosen at run time) and for the baseline.
macro_rules! dispatch_simd {
    ($name:ident, $body:ident, ($($arg:ident : $ty:ty),*)) => {
        #[allow(clippy::too_many_arguments)]
        pub(super) fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments)]
                unsafe fn wide($($arg: $ty),*) {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU has the features the function was compiled for.
                    unsafe { wide($($arg),*) };
                    return;
                }
            }
            $body($($arg),*)
        }
    };
}

dispatch_simd!(gates_forward, gates_forward_body, (h: usize, g: &mut [f32], x: &[f32], x_rs: usize, c_prev: &[f32], c_next: &mut [f32], h_next: &mut [f32], forget_bias: f32));
dispatch_simd!(gates_backward, gates_backward_body, (h: usize, g: &[f32], c_prev: &[f32], c_cur: &[f32], dy: &[f32], dy_rs: usize, dh: &[f32], dc: &mut [f32], dg: &mut [f32], dg_rs: usize));

/// Below this many multiply-adds a product runs on one thread (thread start-up would dominate).
const PARALLEL_GEMM_WORK: usize = 1 << 18;

/// Split `batch` rows into one chunk per thread (at least one row each).
fn chunk_rows(batch: usize) -> Vec<(usize, usize)> {
    let n = rayon::current_num_threads().clamp(1, batch.max(1));
    let per = batch.div_ceil(n);
    (0..batch)
        .step_by(per.max(1))
        .map(|first| (first, per.min(batch - first)))
        .collect()
}

/// `dst[m×n] (= or +=) lhs[m×k] · rhs[k×n]`, every operand given by (row, column) strides.
#[allow(clippy::too_many_arguments)]
pub(super) fn matmul(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    (dst_rs, dst_cs): (usize, usize),
    accumulate: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    (rhs_rs, rhs_cs): (usize, usize),
    threads: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    // Bounds: the largest index each operand is read or written at must be inside its slice.
    let last = |rows: usize, cols: usize, rs: usize, cs: usize| (rows - 1) * rs + (cols - 1) * cs;
    assert!(
        last(m, n, dst_rs, dst_cs) < dst.len(),
        "gemm dst out of bounds"
    );
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst[i * dst_rs + j * dst_cs] = 0.0;
                }
            }
        }
        return;
    }
    assert!(
        last(m, k, lhs_rs, lhs_cs) < lhs.len(),
        "gemm lhs out of bounds"
    );
    assert!(
        last(k, n, rhs_rs, rhs_cs) < rhs.len(),
        "gemm rhs out of bounds"
    );
    if m <= SMALL_M && dst_cs == 1 && rhs_cs == 1 {
        // A few rows (stepwise decoding, a short batch per thread): stream the right-hand matrix
        // once instead of packing it for a general product, which costs more than the product.
        small_m(
            (m, n, k),
            dst,
            dst_rs,
            accumulate,
            lhs,
            (lhs_rs, lhs_cs),
            rhs,
            rhs_rs,
        );
        return;
    }
    let parallelism =
        if threads && m * n * k >= PARALLEL_GEMM_WORK && rayon::current_num_threads() > 1 {
            Parallelism::Rayon(0)
        } else {
            Parallelism::None
        };
    // SAFETY: every index the product touches was bounds-checked above; `dst` does not alias
    // `lhs` or `rhs` (distinct borrows).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_cs as isize,
            dst_rs as isize,
            accumulate,
            lhs.as_ptr(),
            lhs_cs as isize,
            lhs_rs as isize,
            rhs.as_ptr(),
            rhs_cs as isize,
            rhs_rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// Up to this many rows, a product runs as [`small_m`].
pub(super) const SMALL_M: usize = 4;

/// `dst (= or +=) lhs · rhs` for `m ≤ SMALL_M` rows with unit column strides in `dst` and `rhs`:
/// `rhs` is read once, row after row in memory order (the hardware prefetcher's best case; these
/// products are bound by reading the weights), each row added into the `m` rows of `dst`, which
/// stay in the L1 cache.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn small_m_body(
    (m, n, k): (usize, usize, usize),
    dst: &mut [f32],
    dst_rs: usize,
    accumulate: bool,
    lhs: &[f32],
    (lhs_rs, lhs_cs): (usize, usize),
    rhs: &[f32],
    rhs_rs: usize,
) {
    if !accumulate {
        for i in 0..m {
            dst[i * dst_rs..i * dst_rs + n].fill(0.0);
        }
    }
    for p in 0..k {
        let w = &rhs[p * rhs_rs..p * rhs_rs + n];
        for i in 0..m {
            let x = lhs[i * lhs_rs + p * lhs_cs];
            for (d, w) in dst[i * dst_rs..i * dst_rs + n].iter_mut().zip(w) {
                *d += x * w;
            }
        }
    }
}

dispatch_simd!(small_m, small_m_body, (mnk: (usize, usize, usize), dst: &mut [f32], dst_rs: usize, accumulate: bool, lhs: &[f32], lhs_strides: (usize, usize), rhs: &[f32], rhs_rs: usize));

/// Plain row-major `c = a · b` (`a` `[m, k]`, `b` `[k, n]`) on all threads: the sgemm the
/// benchmarks compare with.
pub fn sgemm(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    matmul((m, n, k), c, (n, 1), false, a, (k, 1), b, (n, 1), true);
}

/// Forward pass. `xp` `[B, T, 4H]`, `w_hh` `[H, 4H]`, `h0`/`c0` `[B, H]`. Returns the packed output
/// `[B·T + B, H]` and, with `keep`, what backward needs.
#[allow(clippy::too_many_arguments)]
pub fn forward(
    dims: SeqDims,
    xp: &[f32],
    w_hh: Arc<Vec<f32>>,
    h0: &[f32],
    c0: &[f32],
    forget_bias: f32,
    reverse: bool,
    keep: bool,
) -> (Vec<f32>, Option<Saved>) {
    let SeqDims {
        batch: b,
        steps: t,
        hidden: h,
    } = dims;
    let g4 = dims.gates();
    assert!(h > 0, "an LSTM layer has at least one unit");
    assert_eq!(xp.len(), b * t * g4, "xp shape");
    assert_eq!(w_hh.len(), h * g4, "w_hh shape");
    assert_eq!(h0.len(), b * h, "h0 shape");
    assert_eq!(c0.len(), b * h, "c0 shape");
    let mut out = vec![0.0f32; (b * t + b) * h]; // [B·T + B, H]
    if b == 0 || t == 0 {
        // No step to run: the final cell state is c0.
        out.copy_from_slice(c0);
        let saved = keep.then(|| Saved {
            dims,
            reverse,
            w_hh,
            chunks: Vec::new(),
        });
        return (out, saved);
    }
    let parts = chunk_rows(b);
    let per = parts.first().map(|p| p.1).unwrap_or(1);
    let w_op = Operand::new(&w_hh, (h, g4), per); // [H, 4H]
    let (out_h, out_c) = out.split_at_mut(b * t * h);
    let chunks: Vec<Chunk> = out_h
        .par_chunks_mut(per * t * h)
        .zip(out_c.par_chunks_mut(per * h))
        .zip(parts.par_iter())
        .map(|((out, out_c), &(first, rows))| {
            let mut gates = vec![0.0f32; t * rows * g4]; // [T, rows, 4H]
            let mut cells = vec![0.0f32; (t + 1) * rows * h]; // [T+1, rows, H]
            let mut hiddens = vec![0.0f32; (t + 1) * rows * h]; // [T+1, rows, H]
            cells[..rows * h].copy_from_slice(&c0[first * h..(first + rows) * h]);
            hiddens[..rows * h].copy_from_slice(&h0[first * h..(first + rows) * h]);
            for s in 0..t {
                let pos = dims.position(s, reverse);
                let gs = &mut gates[s * rows * g4..(s + 1) * rows * g4]; // [rows, 4H]
                let (h_prev, h_next) = hiddens.split_at_mut((s + 1) * rows * h);
                let h_prev = &h_prev[s * rows * h..]; // [rows, H]
                let h_next = &mut h_next[..rows * h]; // [rows, H]

                // gates = h_{s-1} · W_hh, then the fused gate arithmetic with the inputs.
                w_op.product(rows, gs, g4, false, h_prev, h);
                let (c_prev, c_next) = cells.split_at_mut((s + 1) * rows * h);
                let x = &xp[(first * t + pos) * g4..]; // row r at r·T·4H
                gates_forward(
                    h,
                    gs,
                    x,
                    t * g4,
                    &c_prev[s * rows * h..],
                    &mut c_next[..rows * h],
                    h_next,
                    forget_bias,
                );
                for r in 0..rows {
                    out[(r * t + pos) * h..(r * t + pos + 1) * h]
                        .copy_from_slice(&h_next[r * h..(r + 1) * h]);
                }
            }
            out_c.copy_from_slice(&cells[t * rows * h..(t + 1) * rows * h]);
            Chunk {
                first,
                rows,
                gates,
                cells,
                hiddens,
            }
        })
        .collect();
    let saved = keep.then_some(Saved {
        dims,
        reverse,
        w_hh,
        chunks,
    });
    (out, saved)
}

/// Backward pass: `d_out` is the gradient of the packed output `[B·T + B, H]`.
pub fn backward(saved: &Saved, d_out: &[f32]) -> SeqGrads {
    let dims = saved.dims;
    let SeqDims {
        batch: b,
        steps: t,
        hidden: h,
    } = dims;
    let g4 = dims.gates();
    let reverse = saved.reverse;
    assert_eq!(d_out.len(), (b * t + b) * h, "d_out shape");
    let mut d_xp = vec![0.0f32; b * t * g4]; // [B, T, 4H]
    let mut d_h0 = vec![0.0f32; b * h]; // [B, H]
    let mut d_c0 = vec![0.0f32; b * h]; // [B, H]
    let mut h_prev = vec![0.0f32; b * t * h]; // [B, T, H]: the state each position's gates read
    if b == 0 || t == 0 {
        // No step ran: the final cell state is c0.
        d_c0.copy_from_slice(&d_out[b * t * h..]);
        return SeqGrads {
            xp: d_xp,
            w_hh: vec![0.0f32; h * g4],
            h0: d_h0,
            c0: d_c0,
        };
    }
    let per = saved.chunks.first().map(|c| c.rows).unwrap_or(1);
    let w_t_panels = Panels::new(&saved.w_hh, (g4, h), (1, g4)); // W_hhᵀ [4H, H] as column panels
    d_xp.par_chunks_mut(per * t * g4)
        .zip(d_h0.par_chunks_mut(per * h))
        .zip(d_c0.par_chunks_mut(per * h))
        .zip(h_prev.par_chunks_mut(per * t * h))
        .zip(saved.chunks.par_iter())
        .for_each(|((((d_xp, dh), dc), h_prev), chunk)| {
            let (first, rows) = (chunk.first, chunk.rows);
            // dc starts as the gradient of the final cell state; dh as zero (the final hidden
            // state's gradient is part of the last output's).
            dc.copy_from_slice(&d_out[(b * t + first) * h..(b * t + first + rows) * h]);
            let mut dh_next = vec![0.0f32; rows * h];
            for s in (0..t).rev() {
                let pos = dims.position(s, reverse);
                gates_backward(
                    h,
                    &chunk.gates[s * rows * g4..(s + 1) * rows * g4],
                    &chunk.cells[s * rows * h..(s + 1) * rows * h],
                    &chunk.cells[(s + 1) * rows * h..(s + 2) * rows * h],
                    &d_out[(first * t + pos) * h..],
                    t * h,
                    dh,
                    dc,
                    &mut d_xp[pos * g4..],
                    t * g4,
                );
                // dh_{s-1} = dG_s · W_hhᵀ (the rows of dG_s are strided inside d_xp)
                w_t_panels.product(rows, &mut dh_next, h, false, &d_xp[pos * g4..], t * g4);
                dh.copy_from_slice(&dh_next);
                for r in 0..rows {
                    h_prev[(r * t + pos) * h..(r * t + pos + 1) * h].copy_from_slice(
                        &chunk.hiddens[(s * rows + r) * h..(s * rows + r + 1) * h],
                    );
                }
            }
        });
    // dW_hh = Σ h_{s-1}ᵀ · dG_s, as one product over all (row, position) pairs.
    let mut d_w = vec![0.0f32; h * g4]; // [H, 4H]
    matmul(
        (h, g4, b * t),
        &mut d_w,
        (g4, 1),
        false,
        &h_prev,
        (1, h),
        &d_xp,
        (g4, 1),
        true,
    );
    SeqGrads {
        xp: d_xp,
        w_hh: d_w,
        h0: d_h0,
        c0: d_c0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator for test data.
    fn data(n: usize, seed: u64, scale: f32) -> Vec<f32> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..n)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 2.0 * scale
            })
            .collect()
    }

    /// Plain f64 reference of the forward pass (packed output).
    fn reference(
        d: SeqDims,
        xp: &[f32],
        w: &[f32],
        h0: &[f32],
        c0: &[f32],
        fb: f64,
        reverse: bool,
    ) -> Vec<f64> {
        let (b, t, h) = (d.batch, d.steps, d.hidden);
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let mut out = vec![0.0f64; (b * t + b) * h];
        for bi in 0..b {
            let mut hs: Vec<f64> = h0[bi * h..(bi + 1) * h].iter().map(|&v| v as f64).collect();
            let mut cs: Vec<f64> = c0[bi * h..(bi + 1) * h].iter().map(|&v| v as f64).collect();
            for s in 0..t {
                let pos = if reverse { t - 1 - s } else { s };
                let mut gates = vec![0.0f64; 4 * h];
                for (k, gk) in gates.iter_mut().enumerate() {
                    let mut acc = xp[(bi * t + pos) * 4 * h + k] as f64;
                    for (j, hj) in hs.iter().enumerate() {
                        acc += hj * w[j * 4 * h + k] as f64;
                    }
                    *gk = acc;
                }
                for j in 0..h {
                    let i = sig(gates[j]);
                    let f = sig(gates[h + j] + fb);
                    let g = gates[2 * h + j].tanh();
                    let o = sig(gates[3 * h + j]);
                    cs[j] = f * cs[j] + i * g;
                    hs[j] = o * cs[j].tanh();
                    out[(bi * t + pos) * h + j] = hs[j];
                }
            }
            for j in 0..h {
                out[(b * t + bi) * h + j] = cs[j];
            }
        }
        out
    }

    fn case(d: SeqDims, seed: u64) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let g4 = 4 * d.hidden;
        (
            data(d.batch * d.steps * g4, seed, 1.0),
            data(d.hidden * g4, seed + 1, 0.5),
            data(d.batch * d.hidden, seed + 2, 0.5),
            data(d.batch * d.hidden, seed + 3, 0.5),
        )
    }

    #[test]
    fn forward_matches_f64_reference() {
        for (i, &(b, t, h, rev)) in [
            (1, 1, 1, false),
            (3, 7, 5, false),
            (3, 7, 5, true),
            (17, 13, 64, true),
            (2, 40, 33, false),
        ]
        .iter()
        .enumerate()
        {
            let d = SeqDims {
                batch: b,
                steps: t,
                hidden: h,
            };
            let (xp, w, h0, c0) = case(d, i as u64 * 10);
            let (out, _) = forward(d, &xp, Arc::new(w.clone()), &h0, &c0, 1.0, rev, false);
            let r = reference(d, &xp, &w, &h0, &c0, 1.0, rev);
            let max = out
                .iter()
                .zip(&r)
                .map(|(a, b)| (*a as f64 - b).abs())
                .fold(0.0, f64::max);
            assert!(max < 1e-5, "case {i}: max diff {max}");
        }
    }

    #[test]
    fn backward_matches_finite_differences() {
        for (case_no, &(b, t, h, rev)) in [(2, 3, 2, false), (2, 4, 3, true), (1, 1, 1, false)]
            .iter()
            .enumerate()
        {
            let d = SeqDims {
                batch: b,
                steps: t,
                hidden: h,
            };
            let (xp, w, h0, c0) = case(d, 100 + case_no as u64);
            // Loss = Σ weight · packed output, with fixed random weights.
            let wts = data((b * t + b) * h, 7 + case_no as u64, 1.0);
            let loss = |xp: &[f32], w: &[f32], h0: &[f32], c0: &[f32]| -> f64 {
                reference(d, xp, w, h0, c0, 1.0, rev)
                    .iter()
                    .zip(&wts)
                    .map(|(o, k)| o * *k as f64)
                    .sum()
            };
            let (_, saved) = forward(d, &xp, Arc::new(w.clone()), &h0, &c0, 1.0, rev, true);
            let g = backward(&saved.expect("kept"), &wts);
            let eps = 1e-3f32;
            let check = |name: &str, base: &[f32], grad: &[f32], which: usize| {
                for k in 0..base.len() {
                    let mut p = base.to_vec();
                    let mut m = base.to_vec();
                    p[k] += eps;
                    m[k] -= eps;
                    let args = |v: &[f32]| -> f64 {
                        match which {
                            0 => loss(v, &w, &h0, &c0),
                            1 => loss(&xp, v, &h0, &c0),
                            2 => loss(&xp, &w, v, &c0),
                            _ => loss(&xp, &w, &h0, v),
                        }
                    };
                    let fd = (args(&p) - args(&m)) / (2.0 * eps as f64);
                    let diff = (fd - grad[k] as f64).abs();
                    assert!(
                        diff < 2e-3 * (1.0 + fd.abs()),
                        "case {case_no} {name}[{k}]: finite difference {fd} vs {}",
                        grad[k]
                    );
                }
            };
            check("xp", &xp, &g.xp, 0);
            check("w_hh", &w, &g.w_hh, 1);
            check("h0", &h0, &g.h0, 2);
            check("c0", &c0, &g.c0, 3);
        }
    }

    /// Products of a few rows (the streamed kernel) and of many (gemm) agree with an f64 reference,
    /// with strided left operands, accumulation and widths that are not a multiple of the block.
    #[test]
    fn matmul_of_few_and_many_rows_matches_f64() {
        for (m, n, k) in [
            (1, 1, 1),
            (2, 17, 5),
            (3, 64, 33),
            (4, 35, 70),
            (5, 40, 9),
            (9, 16, 16),
        ] {
            for (accumulate, transposed) in [(false, false), (true, false), (false, true)] {
                let lhs = data(m * k, 1 + m as u64, 1.0);
                let rhs = data(k * n, 2 + n as u64, 1.0);
                let start = data(m * n, 3, 1.0);
                let (lhs_rs, lhs_cs) = if transposed { (1, m) } else { (k, 1) };
                let mut dst = if accumulate {
                    start.clone()
                } else {
                    vec![7.0; m * n]
                };
                matmul(
                    (m, n, k),
                    &mut dst,
                    (n, 1),
                    accumulate,
                    &lhs,
                    (lhs_rs, lhs_cs),
                    &rhs,
                    (n, 1),
                    false,
                );
                for i in 0..m {
                    for j in 0..n {
                        let mut want: f64 = if accumulate {
                            start[i * n + j] as f64
                        } else {
                            0.0
                        };
                        for p in 0..k {
                            want += lhs[i * lhs_rs + p * lhs_cs] as f64 * rhs[p * n + j] as f64;
                        }
                        let got = dst[i * n + j] as f64;
                        assert!(
                            (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                            "m {m} n {n} k {k} acc {accumulate} t {transposed} [{i},{j}]: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn zero_steps_pass_the_state_through() {
        let d = SeqDims {
            batch: 2,
            steps: 0,
            hidden: 3,
        };
        let c0 = data(6, 1, 1.0);
        let (out, saved) = forward(
            d,
            &[],
            Arc::new(data(36, 2, 1.0)),
            &[0.0; 6],
            &c0,
            1.0,
            false,
            true,
        );
        assert_eq!(out, c0);
        let g = backward(&saved.expect("kept"), &[1.0; 6]);
        assert_eq!(g.c0, vec![1.0; 6]);
        assert_eq!(g.w_hh, vec![0.0; 36]);
    }
}
