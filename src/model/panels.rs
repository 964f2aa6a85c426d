//! A weight matrix that many products read in a row (the recurrent weights of an LSTM, read once
//! per time step) stored as column panels: `[k, n]` cut into blocks of [`PANEL`] columns, each
//! block contiguous (`[k, width]`, row-major).
//!
//! Why: for a product `[rows, k] · [k, n]` with few rows (a thread's slice of the batch: 32 rows at
//! batch 64 on two cores), the `gemm` crate reads the right-hand matrix in place, a whole row of
//! `n` floats apart from one `k` to the next: a new page every step of the inner loop. Read as
//! contiguous panels, the same product runs 2.4× faster at 32 rows and 1.1× at 256 (one core of the
//! build machine, `[rows, 512] · [512, 2048]`: 51 → 124 GFLOP/s and 143 → 152; the transposed
//! product of backward, `[rows, 2048] · [2048, 512]`: 33 → 91 and 123 → 155). Building the panels
//! is one copy of the matrix per sequence.

use super::lstm_kernel::{matmul, SMALL_M};

/// Width of a panel: four AVX-512 registers, the `gemm` crate's micro-kernel height.
const PANEL: usize = 64;

/// A `[k, n]` matrix as column panels.
#[derive(Debug, Clone)]
pub struct Panels {
    k: usize,
    n: usize,
    /// Panel `p` (columns `p·PANEL..`) at `p·PANEL·k`, `[k, width_p]` row-major.
    data: Vec<f32>,
}

impl Panels {
    /// The `[k, n]` matrix whose element `(i, j)` is `src[i·rs + j·cs]` (a row-major matrix with
    /// `(n, 1)`, its transpose with `(1, k)`).
    pub fn new(src: &[f32], (k, n): (usize, usize), (rs, cs): (usize, usize)) -> Self {
        if k > 0 && n > 0 {
            assert!(
                (k - 1) * rs + (n - 1) * cs < src.len(),
                "panel source out of bounds"
            );
        }
        let mut data = Vec::with_capacity(k * n);
        for first in (0..n).step_by(PANEL) {
            let width = PANEL.min(n - first);
            for i in 0..k {
                let row = i * rs + first * cs;
                if cs == 1 {
                    data.extend_from_slice(&src[row..row + width]);
                } else {
                    data.extend((0..width).map(|j| src[row + j * cs]));
                }
            }
        }
        Panels { k, n, data }
    }

    /// `dst[m × n] (= or +=) lhs[m × k] · self`, row-major operands given by their row strides,
    /// on this thread.
    pub fn product(
        &self,
        m: usize,
        dst: &mut [f32],
        dst_rs: usize,
        accumulate: bool,
        lhs: &[f32],
        lhs_rs: usize,
    ) {
        let (k, n) = (self.k, self.n);
        if m == 0 || n == 0 {
            return;
        }
        for first in (0..n).step_by(PANEL) {
            let width = PANEL.min(n - first);
            matmul(
                (m, width, k),
                &mut dst[first..],
                (dst_rs, 1),
                accumulate,
                lhs,
                (lhs_rs, 1),
                &self.data[first * k..first * k + width * k],
                (width, 1),
                false,
            );
        }
    }
}

/// A row-major right-hand matrix `[k, n]` that many products read: as [`Panels`] when those
/// products have more rows than the streamed kernel takes (gemm), in place otherwise (the streamed
/// kernel reads rows in memory order already; a copy would only cost time, e.g. once per bar of a
/// hierarchical decode of a few phrases).
#[derive(Debug)]
pub enum Operand<'a> {
    Panels(Panels),
    InPlace { data: &'a [f32], k: usize, n: usize },
}

impl<'a> Operand<'a> {
    /// `src` `[k, n]` row-major, for products of `rows` rows.
    pub fn new(src: &'a [f32], (k, n): (usize, usize), rows: usize) -> Self {
        if rows > SMALL_M {
            Operand::Panels(Panels::new(src, (k, n), (n, 1)))
        } else {
            Operand::InPlace { data: src, k, n }
        }
    }

    /// `dst[m × n] (= or +=) lhs[m × k] · self` (see [`Panels::product`]).
    pub fn product(
        &self,
        m: usize,
        dst: &mut [f32],
        dst_rs: usize,
        accumulate: bool,
        lhs: &[f32],
        lhs_rs: usize,
    ) {
        match self {
            Operand::Panels(p) => p.product(m, dst, dst_rs, accumulate, lhs, lhs_rs),
            &Operand::InPlace { data, k, n } => matmul(
                (m, n, k),
                dst,
                (dst_rs, 1),
                accumulate,
                lhs,
                (lhs_rs, 1),
                data,
                (n, 1),
                false,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u32) -> Vec<f32> {
        (0..n)
            .map(|i| {
                ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) % 1000) as f32 / 500.0
                    - 1.0
            })
            .collect()
    }

    /// Products through panels equal an f64 reference, for widths below, at and above a panel,
    /// few rows (the streamed kernel) and many (gemm), row-major and transposed sources, strided
    /// left operands and destinations, with and without accumulation.
    #[test]
    fn panel_products_match_f64() {
        for (m, k, n) in [
            (1, 1, 1),
            (3, 5, 64),
            (5, 7, 65),
            (17, 33, 130),
            (40, 64, 256),
        ] {
            for transposed in [false, true] {
                // The source: [k, n] row-major, or [n, k] row-major read transposed.
                let src = data(k * n, (m + n) as u32);
                let (rs, cs) = if transposed { (1, k) } else { (n, 1) };
                let w = Panels::new(&src, (k, n), (rs, cs));
                for accumulate in [false, true] {
                    let (lhs_rs, dst_rs) = (k + 3, n + 2);
                    let lhs = data(m * lhs_rs, 7);
                    let start = data(m * dst_rs, 9);
                    let mut dst = start.clone();
                    w.product(m, &mut dst, dst_rs, accumulate, &lhs, lhs_rs);
                    for i in 0..m {
                        for j in 0..n {
                            let mut want = if accumulate {
                                start[i * dst_rs + j] as f64
                            } else {
                                0.0
                            };
                            for p in 0..k {
                                want += lhs[i * lhs_rs + p] as f64 * src[p * rs + j * cs] as f64;
                            }
                            let got = dst[i * dst_rs + j] as f64;
                            assert!(
                                (got - want).abs() < 1e-4 * (1.0 + want.abs()),
                                "m {m} k {k} n {n} t {transposed} acc {accumulate} [{i},{j}]: {got} vs {want}"
                            );
                        }
                        // Padding between rows is left alone.
                        for j in n..dst_rs {
                            assert_eq!(dst[i * dst_rs + j], start[i * dst_rs + j]);
                        }
                    }
                    if !transposed {
                        // The same product through `Operand`: in place for ≤ SMALL_M rows (m 1, 3),
                        // as panels above.
                        let mut via = start.clone();
                        Operand::new(&src, (k, n), m)
                            .product(m, &mut via, dst_rs, accumulate, &lhs, lhs_rs);
                        for (a, b) in via.iter().zip(&dst) {
                            assert!(
                                (a - b).abs() < 1e-4 * (1.0 + b.abs()),
                                "operand m {m}: {a} vs {b}"
                            );
                        }
                    }
                }
            }
        }
    }
}
