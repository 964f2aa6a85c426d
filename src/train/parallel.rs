//! Data-parallel training steps on the CPU: the batch is cut into one part per core, each part runs
//! forward and backward on its own core (a single-thread rayon pool, with its own copy of the
//! model's autodiff graph), and the parts' gradients are summed before clipping and Adam.
//!
//! Why: on two cores, splitting every product and every gate pass of one batch between the cores
//! leaves one of them idle whenever the main thread walks burn's graph, runs element-wise ops or
//! prepares a kernel (≈ a quarter of a step at batch 64). Two independent half-batches keep both
//! busy for the whole forward and backward pass. The loss is a mean of per-sequence terms, so
//! weighting each part's loss by its share of the batch makes the summed gradient the gradient of
//! the whole batch (up to the order of float additions).
//!
//! Only the CPU backend splits (the GPU runs one batch as one); `MUSICVAE_DATA_PARALLEL=0` turns
//! the split off (for benchmarks and agreement checks).

use burn::backend::{Autodiff, NdArray};
use rayon::{ThreadPool, ThreadPoolBuilder};
use std::any::TypeId;
use std::sync::OnceLock;

/// The smallest part worth its own core.
const MIN_PART: usize = 8;

fn disabled() -> bool {
    static OFF: OnceLock<bool> = OnceLock::new();
    *OFF.get_or_init(|| std::env::var("MUSICVAE_DATA_PARALLEL").is_ok_and(|v| v == "0"))
}

/// One single-thread pool per thread of the global pool (built once; None if the system refuses
/// threads, and then steps are not split).
fn pools() -> Option<&'static [ThreadPool]> {
    static POOLS: OnceLock<Option<Vec<ThreadPool>>> = OnceLock::new();
    POOLS
        .get_or_init(|| {
            (0..rayon::current_num_threads())
                .map(|i| {
                    ThreadPoolBuilder::new()
                        .num_threads(1)
                        .thread_name(move |_| format!("musicvae-part-{i}"))
                        .build()
                        .ok()
                })
                .collect()
        })
        .as_deref()
}

/// How many parts a step over `batch` sequences on backend `B` is cut into (1: not split).
pub fn parts<B: 'static>(batch: usize) -> usize {
    if TypeId::of::<B>() != TypeId::of::<Autodiff<NdArray<f32>>>() || disabled() {
        return 1;
    }
    let threads = pools().map_or(1, <[ThreadPool]>::len);
    threads.min(batch / MIN_PART).max(1)
}

/// Rows `(start, len)` of each of `parts` parts of `batch` rows, as even as possible.
pub fn split(batch: usize, parts: usize) -> Vec<(usize, usize)> {
    let parts = parts.clamp(1, batch.max(1));
    let (base, extra) = (batch / parts, batch % parts);
    let mut start = 0;
    (0..parts)
        .map(|k| {
            let len = base + usize::from(k < extra);
            let range = (start, len);
            start += len;
            range
        })
        .collect()
}

/// Run `f` on every input, each on its own core (the k-th input on the k-th single-thread pool,
/// inside which rayon sees one thread), and return the results in order. A panic in a part is
/// re-raised here.
pub fn run<I: Send, T: Send, F: Fn(I) -> T + Sync>(inputs: Vec<I>, f: F) -> Vec<T> {
    let Some(pools) = pools().filter(|p| p.len() >= inputs.len()) else {
        return inputs.into_iter().map(f).collect();
    };
    let f = &f;
    std::thread::scope(|s| {
        let handles: Vec<_> = inputs
            .into_iter()
            .zip(pools)
            .map(|(input, pool)| s.spawn(move || pool.install(|| f(input))))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_covers_the_batch_evenly() {
        assert_eq!(split(64, 2), vec![(0, 32), (32, 32)]);
        assert_eq!(split(7, 3), vec![(0, 3), (3, 2), (5, 2)]);
        assert_eq!(split(2, 4), vec![(0, 1), (1, 1)]);
        assert_eq!(split(5, 1), vec![(0, 5)]);
    }

    #[test]
    fn run_keeps_order_and_gives_each_part_one_thread() {
        let out = run(
            (0..pools().map_or(1, <[ThreadPool]>::len)).collect(),
            |k: usize| (k, rayon::current_num_threads()),
        );
        for (k, (got, threads)) in out.into_iter().enumerate() {
            assert_eq!(got, k);
            assert_eq!(threads, 1);
        }
    }
}
