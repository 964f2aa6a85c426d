//! The dense layers' matrix product `[M, K] × [K, N]` as one operation with its own backward pass
//! on the CPU backend: the `gemm` crate (AVX-512 where the CPU has it) instead of burn-ndarray's
//! `matrixmultiply` (AVX2 at most), for the input projections of every LSTM layer and the output
//! layer, forward and backward (`dA = dC·Bᵀ`, `dB = Aᵀ·dC`, read through strides, no transposed
//! copies). Other backends use their own `matmul`. `MUSICVAE_LSTM=steps` (the per-step reference
//! path of [`super::lstm_op`]) also turns it off.

use super::lstm_kernel::matmul as matmul_strided;
use super::lstm_op::{same_type, supported, with_slice, Cpu, CpuAutodiff};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::Autodiff;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensorOps;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use std::any::TypeId;
use std::sync::Arc;

/// `a` `[M, K]` × `b` `[K, N]` → `[M, N]`.
pub fn matmul<B: Backend>(a: Tensor<B, 2>, b: Tensor<B, 2>) -> Tensor<B, 2> {
    if !supported::<B>() {
        return a.matmul(b);
    }
    let id = TypeId::of::<B>();
    if id == TypeId::of::<CpuAutodiff>() {
        same_type(autodiff_matmul::<_>(
            same_type::<_, Tensor<CpuAutodiff, 2>>(a),
            same_type(b),
        ))
    } else {
        same_type(product(same_type(a), same_type(b)))
    }
}

/// What backward needs: both operands (shared storage, not copies).
#[derive(Debug)]
struct Saved {
    a: Tensor<Cpu, 2>,
    b: Tensor<Cpu, 2>,
}

/// `a · b` on host memory, read in place from both tensors' storage.
fn product(a: Tensor<Cpu, 2>, b: Tensor<Cpu, 2>) -> Tensor<Cpu, 2> {
    let ([m, k], [k2, n]) = (a.dims(), b.dims());
    assert_eq!(k, k2, "matmul: inner sizes differ");
    let device = a.device();
    let c = with_slice(a, |a| {
        with_slice(b, |b| {
            let mut c = vec![0.0f32; m * n]; // [M, N]
            matmul_strided((m, n, k), &mut c, (n, 1), false, a, (k, 1), b, (n, 1), true);
            c
        })
    });
    Tensor::from_data(TensorData::new(c, [m, n]), &device)
}

fn host_matmul(
    a: Tensor<Cpu, 2>,
    b: Tensor<Cpu, 2>,
    keep: bool,
) -> (Tensor<Cpu, 2>, Option<Saved>) {
    let saved = keep.then(|| Saved {
        a: a.clone(),
        b: b.clone(),
    });
    (product(a, b), saved)
}

/// The backward step of the product node (parents: a, b).
#[derive(Debug)]
struct MatmulBackward;

impl Backward<Cpu, 2> for MatmulBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let s = ops.state;
        let ([m, k], [_, n]) = (s.a.dims(), s.b.dims());
        let grad = grads.consume::<Cpu>(&ops.node); // [M, N]
        let grad = Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(grad));
        let device = grad.device();
        let [pa, pb] = ops.parents;
        with_slice(grad, |d| {
            if let Some(node) = pa {
                // dA [M, K] = dC [M, N] · Bᵀ (B [K, N] read with strides (1, N)).
                let da = with_slice(s.b.clone(), |b| {
                    let mut da = vec![0.0f32; m * k];
                    matmul_strided(
                        (m, k, n),
                        &mut da,
                        (k, 1),
                        false,
                        d,
                        (n, 1),
                        b,
                        (1, n),
                        true,
                    );
                    da
                });
                let t = Cpu::float_from_data(TensorData::new(da, [m, k]), &device);
                grads.register::<Cpu>(node.id, t);
            }
            if let Some(node) = pb {
                // dB [K, N] = Aᵀ (A [M, K] read with strides (1, K)) · dC [M, N].
                let db = with_slice(s.a.clone(), |a| {
                    let mut db = vec![0.0f32; k * n];
                    matmul_strided(
                        (k, n, m),
                        &mut db,
                        (n, 1),
                        false,
                        a,
                        (1, k),
                        d,
                        (n, 1),
                        true,
                    );
                    db
                });
                let t = Cpu::float_from_data(TensorData::new(db, [k, n]), &device);
                grads.register::<Cpu>(node.id, t);
            }
        });
    }
}

fn autodiff_matmul<C: CheckpointStrategy>(
    a: Tensor<Autodiff<Cpu, C>, 2>,
    b: Tensor<Autodiff<Cpu, C>, 2>,
) -> Tensor<Autodiff<Cpu, C>, 2> {
    let a = a.into_primitive().tensor();
    let b = b.into_primitive().tensor();
    let nodes = [a.node.clone(), b.node.clone()];
    let inner = |p| Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(p));
    let run = |keep| host_matmul(inner(a.primitive), inner(b.primitive), keep);
    let prepared = <MatmulBackward as Backward<Cpu, 2>>::prepare::<C>(MatmulBackward, nodes)
        .compute_bound()
        .stateful();
    let out = match prepared {
        OpsKind::Tracked(prep) => {
            let (out, saved) = run(true);
            let saved = saved.unwrap_or_else(|| unreachable!("forward asked to keep its operands"));
            prep.finish(Arc::new(saved), out.into_primitive().tensor())
        }
        OpsKind::UnTracked(prep) => prep.finish(run(false).0.into_primitive().tensor()),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    fn rand<B: Backend>(rng: &mut Rng, r: usize, c: usize) -> Tensor<B, 2> {
        Tensor::from_data(
            TensorData::new(rng.normals(r * c), [r, c]),
            &Default::default(),
        )
    }

    /// Values and both gradients agree with burn's own `matmul` (to 1e-4 relative).
    #[test]
    fn product_and_gradients_match_burn() {
        let mut rng = Rng::new(9);
        for (m, k, n) in [(1, 1, 1), (3, 5, 7), (64, 90, 40), (130, 33, 17)] {
            let a0 = rand::<CpuAutodiff>(&mut rng, m, k);
            let b0 = rand::<CpuAutodiff>(&mut rng, k, n);
            let w = rand::<CpuAutodiff>(&mut rng, m, n);
            let run = |ours: bool| {
                let (a, b) = (a0.clone().require_grad(), b0.clone().require_grad());
                let c = if ours {
                    matmul(a.clone(), b.clone())
                } else {
                    a.clone().matmul(b.clone())
                };
                let grads = (c.clone() * w.clone()).sum().backward();
                let ga = a.grad(&grads).expect("grad a").into_data();
                let gb = b.grad(&grads).expect("grad b").into_data();
                [c.into_data(), ga, gb]
            };
            let (x, y) = (run(true), run(false));
            for (what, (p, q)) in ["product", "dA", "dB"].iter().zip(x.iter().zip(&y)) {
                let (p, q) = (p.to_vec::<f32>().unwrap(), q.to_vec::<f32>().unwrap());
                let scale = q.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
                let worst = p
                    .iter()
                    .zip(&q)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(worst <= 1e-4 * scale, "{m}x{k}x{n} {what}: {worst}");
            }
        }
    }
}
