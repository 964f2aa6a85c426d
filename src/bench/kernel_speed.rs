//! Kernel-level speed: the CPU LSTM recurrence (forward + backward through time) and a plain sgemm
//! on the same threads, in GFLOP/s, so a training figure can be put beside what the cores can do.
//!
//! FLOP model (multiply-add = 2 FLOP): the recurrence's forward is `T·2·B·H·4H` (one
//! `[B, H] × [H, 4H]` product per step), its backward twice that (the `[B, 4H] × [4H, H]` product
//! per step and the weight gradient `[H, B·T] × [B·T, 4H]`); the element-wise gate arithmetic is
//! not counted. sgemm: `2·m·n·k`. Read bandwidth: bytes of a buffer summed on all threads, the
//! same buffer again and again (the way inference reads a model's weights at every step).

use crate::model::lstm_kernel::{self, SeqDims};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Instant;

/// One kernel measurement.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KernelSpeed {
    pub what: String,
    pub seconds: f64,
    pub gflops: f64,
    /// Bytes read per second (read-bandwidth rows; 0 for the others).
    #[serde(default)]
    pub gb_per_s: f64,
    pub threads: usize,
}

fn filled(n: usize, scale: f32) -> Vec<f32> {
    (0..n)
        .map(|i| ((i.wrapping_mul(2654435761) % 1000) as f32 / 500.0 - 1.0) * scale)
        .collect()
}

/// Median seconds of `repeat` runs of `f` after one warm-up run.
fn median_time(repeat: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..repeat.max(1))
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Forward + backward of one recurrence of `dims`.
pub fn lstm_speed(dims: SeqDims, repeat: usize) -> KernelSpeed {
    let (b, t, h) = (dims.batch, dims.steps, dims.hidden);
    let xp = filled(b * t * 4 * h, 1.0);
    let w = Arc::new(filled(h * 4 * h, 0.05));
    let h0 = vec![0.0f32; b * h];
    let d_out = filled((b * t + b) * h, 1.0);
    let seconds = median_time(repeat, || {
        let (_, saved) = lstm_kernel::forward(dims, &xp, w.clone(), &h0, &h0, 1.0, false, true);
        if let Some(saved) = saved {
            std::hint::black_box(lstm_kernel::backward(&saved, &d_out));
        }
    });
    let flop = 3.0 * (t * 2 * b * h * 4 * h) as f64;
    KernelSpeed {
        what: format!("lstm B={b} T={t} H={h} fwd+bwd"),
        seconds,
        gflops: flop / seconds / 1e9,
        gb_per_s: 0.0,
        threads: rayon::current_num_threads(),
    }
}

/// `[m, k] × [k, n]` with the gemm crate on all threads.
pub fn sgemm_speed(m: usize, n: usize, k: usize, repeat: usize) -> KernelSpeed {
    let a = filled(m * k, 1.0);
    let bm = filled(k * n, 1.0);
    let mut c = vec![0.0f32; m * n];
    let seconds = median_time(repeat, || {
        lstm_kernel::sgemm(m, n, k, &a, &bm, &mut c);
        std::hint::black_box(&c);
    });
    KernelSpeed {
        what: format!("sgemm {m}x{k}x{n}"),
        seconds,
        gflops: 2.0 * (m * n * k) as f64 / seconds / 1e9,
        gb_per_s: 0.0,
        threads: rayon::current_num_threads(),
    }
}

/// Sum of `x` with 64 independent accumulators (so the loop is bound by memory, not by the
/// latency of a running sum).
#[inline(always)]
fn sum_lanes_body(x: &[f32]) -> f32 {
    let mut acc = [0.0f32; 64];
    let mut chunks = x.chunks_exact(64);
    for c in &mut chunks {
        for (a, v) in acc.iter_mut().zip(c) {
            *a += v;
        }
    }
    acc.iter().sum::<f32>() + chunks.remainder().iter().sum::<f32>()
}

/// [`sum_lanes_body`], with AVX2 where the CPU has it (chosen at run time).
fn sum_lanes(x: &[f32]) -> f32 {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx2")]
        unsafe fn wide(x: &[f32]) -> f32 {
            sum_lanes_body(x)
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the feature the function was compiled for.
            return unsafe { wide(x) };
        }
    }
    sum_lanes_body(x)
}

/// Read bandwidth: a buffer of `mib` MiB summed on all threads (each its own contiguous share).
pub fn read_speed(mib: usize, repeat: usize) -> KernelSpeed {
    use rayon::prelude::*;
    let n = mib * (1 << 20) / 4;
    let x = filled(n, 1.0);
    let share = n.div_ceil(rayon::current_num_threads().max(1)).max(64);
    let seconds = median_time(repeat, || {
        let total: f32 = x.par_chunks(share).map(sum_lanes).sum();
        std::hint::black_box(total);
    });
    KernelSpeed {
        what: format!("read {mib} MiB"),
        seconds,
        gflops: 0.0,
        gb_per_s: (n * 4) as f64 / seconds / 1e9,
        threads: rayon::current_num_threads(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lane_sum_matches_a_plain_sum() {
        let x: Vec<f32> = (0..1000).map(|i| (i % 7) as f32).collect();
        assert_eq!(sum_lanes(&x), x.iter().sum::<f32>());
        let r = read_speed(1, 1);
        assert!(r.gb_per_s > 0.0 && r.seconds > 0.0);
    }
}
