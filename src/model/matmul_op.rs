//! The dense layers' matrix product `[..., K] × [K, N]` (+ bias) as one operation with its own backward pass
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
    dense(a, b, None)
}

/// A dense layer over the last dimension: `x` `[..., K]` · `w` `[K, N]` (+ `bias` `[N]`) →
/// `[..., N]`, every leading index one row of the product. On the CPU backend one node: no
/// reshapes (burn-ndarray copies on every reshape, forward and backward) and the bias added in the
/// same pass (the same sum as `x·w + b`, value for value).
pub fn dense<B: Backend, const D: usize>(
    x: Tensor<B, D>,
    w: Tensor<B, 2>,
    bias: Option<Tensor<B, 1>>,
) -> Tensor<B, D> {
    let dims = x.dims();
    let [k, n] = w.dims();
    let rows: usize = dims[..D - 1].iter().product();
    let mut out_dims = dims;
    out_dims[D - 1] = n;
    if !supported::<B>() {
        let y = x.reshape([rows, k]).matmul(w); // [rows, N]
        let y = match bias {
            Some(b) => y + b.unsqueeze_dim(0),
            None => y,
        };
        return y.reshape(out_dims);
    }
    let id = TypeId::of::<B>();
    if id == TypeId::of::<CpuAutodiff>() {
        same_type(autodiff_dense::<_, D>(
            same_type::<_, Tensor<CpuAutodiff, D>>(x),
            same_type(w),
            bias.map(same_type),
        ))
    } else {
        same_type(product(
            same_type::<_, Tensor<Cpu, D>>(x),
            same_type(w),
            bias.map(same_type),
        ))
    }
}

/// What backward needs: the input and the weights (shared storage, not copies).
#[derive(Debug)]
struct Saved<const D: usize> {
    x: Tensor<Cpu, D>,
    w: Tensor<Cpu, 2>,
}

/// `x · w (+ bias)` on host memory, read in place from the tensors' storage.
fn product<const D: usize>(
    x: Tensor<Cpu, D>,
    w: Tensor<Cpu, 2>,
    bias: Option<Tensor<Cpu, 1>>,
) -> Tensor<Cpu, D> {
    let dims = x.dims();
    let [k2, n] = w.dims();
    let k = dims[D - 1];
    assert_eq!(k, k2, "matmul: inner sizes differ");
    let m: usize = dims[..D - 1].iter().product();
    let device = x.device();
    let mut c = with_slice(x, |a| {
        with_slice(w, |b| {
            let mut c = vec![0.0f32; m * n]; // [M, N]
            matmul_strided((m, n, k), &mut c, (n, 1), false, a, (k, 1), b, (n, 1), true);
            c
        })
    });
    if let Some(bias) = bias {
        with_slice(bias, |b| {
            for row in c.chunks_exact_mut(n) {
                for (v, b) in row.iter_mut().zip(b) {
                    *v += b;
                }
            }
        });
    }
    let mut out_dims = dims;
    out_dims[D - 1] = n;
    Tensor::from_data(TensorData::new(c, out_dims), &device)
}

/// The backward step of the dense node (parents: x, w, bias).
#[derive(Debug)]
struct DenseBackward<const D: usize>;

impl<const D: usize> Backward<Cpu, 3> for DenseBackward<D> {
    type State = Arc<Saved<D>>;

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let s = ops.state;
        let x_dims = s.x.dims();
        let [k, n] = s.w.dims();
        let m: usize = x_dims[..D - 1].iter().product();
        let grad = grads.consume::<Cpu>(&ops.node); // [..., N]
        let grad = Tensor::<Cpu, D>::from_primitive(TensorPrimitive::Float(grad));
        let device = grad.device();
        let [px, pw, pb] = ops.parents;
        with_slice(grad, |d| {
            if let Some(node) = px {
                // dX [M, K] = dC [M, N] · Wᵀ (W [K, N] read with strides (1, N)).
                let dx = with_slice(s.w.clone(), |b| {
                    let mut dx = vec![0.0f32; m * k];
                    matmul_strided(
                        (m, k, n),
                        &mut dx,
                        (k, 1),
                        false,
                        d,
                        (n, 1),
                        b,
                        (1, n),
                        true,
                    );
                    dx
                });
                let t = Cpu::float_from_data(TensorData::new(dx, x_dims), &device);
                grads.register::<Cpu>(node.id, t);
            }
            if let Some(node) = pw {
                // dW [K, N] = Xᵀ (X [M, K] read with strides (1, K)) · dC [M, N].
                let dw = with_slice(s.x.clone(), |a| {
                    let mut dw = vec![0.0f32; k * n];
                    matmul_strided(
                        (k, n, m),
                        &mut dw,
                        (n, 1),
                        false,
                        a,
                        (1, k),
                        d,
                        (n, 1),
                        true,
                    );
                    dw
                });
                let t = Cpu::float_from_data(TensorData::new(dw, [k, n]), &device);
                grads.register::<Cpu>(node.id, t);
            }
            if let Some(node) = pb {
                // d bias [N] = the column sums of dC.
                let mut db = vec![0.0f32; n];
                for row in d.chunks_exact(n) {
                    for (acc, v) in db.iter_mut().zip(row) {
                        *acc += v;
                    }
                }
                let t = Cpu::float_from_data(TensorData::new(db, [n]), &device);
                grads.register::<Cpu>(node.id, t);
            }
        });
    }
}

fn autodiff_dense<C: CheckpointStrategy, const D: usize>(
    x: Tensor<Autodiff<Cpu, C>, D>,
    w: Tensor<Autodiff<Cpu, C>, 2>,
    bias: Option<Tensor<Autodiff<Cpu, C>, 1>>,
) -> Tensor<Autodiff<Cpu, C>, D> {
    let n = w.dims()[1];
    // Without a bias the node still has three parents: a constant zero bias, which takes no
    // gradient, stands in (and is not added).
    let has_bias = bias.is_some();
    let bias = bias.unwrap_or_else(|| Tensor::zeros([n], &x.device()));
    let x = x.into_primitive().tensor();
    let w = w.into_primitive().tensor();
    let b = bias.into_primitive().tensor();
    let nodes = [x.node.clone(), w.node.clone(), b.node.clone()];
    let inner2 = |p| Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(p));
    let run = |keep: bool| {
        let xi = Tensor::<Cpu, D>::from_primitive(TensorPrimitive::Float(x.primitive));
        let wi = inner2(w.primitive);
        let bi =
            has_bias.then(|| Tensor::<Cpu, 1>::from_primitive(TensorPrimitive::Float(b.primitive)));
        let saved = keep.then(|| Saved {
            x: xi.clone(),
            w: wi.clone(),
        });
        (product(xi, wi, bi), saved)
    };
    let prepared = <DenseBackward<D> as Backward<Cpu, 3>>::prepare::<C>(DenseBackward, nodes)
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

    /// Same shape, and values within 1e-4 of the largest magnitude in `want`.
    fn assert_close(got: &TensorData, want: &TensorData, what: &str) {
        assert_eq!(got.shape, want.shape, "{what} shape");
        let (p, q) = (got.to_vec::<f32>().unwrap(), want.to_vec::<f32>().unwrap());
        let scale = q.iter().map(|v| v.abs()).fold(1.0f32, f32::max);
        let worst = p
            .iter()
            .zip(&q)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(worst <= 1e-4 * scale, "{what}: {worst}");
    }

    /// A dense layer over rank-3 input with a bias: values and all three gradients agree with
    /// burn's reshape, `matmul` and broadcast add (to 1e-4 relative).
    #[test]
    fn dense_with_bias_matches_burn() {
        let mut rng = Rng::new(11);
        for (b, t, k, n) in [(1, 1, 1, 1), (2, 3, 5, 7), (4, 32, 90, 65)] {
            let x0 = Tensor::<CpuAutodiff, 3>::from_data(
                TensorData::new(rng.normals(b * t * k), [b, t, k]),
                &Default::default(),
            );
            let w0 = rand::<CpuAutodiff>(&mut rng, k, n);
            let b0 = Tensor::<CpuAutodiff, 1>::from_data(
                TensorData::new(rng.normals(n), [n]),
                &Default::default(),
            );
            let wt = Tensor::<CpuAutodiff, 3>::from_data(
                TensorData::new(rng.normals(b * t * n), [b, t, n]),
                &Default::default(),
            );
            let run = |ours: bool| {
                let (x, w, bias) = (
                    x0.clone().require_grad(),
                    w0.clone().require_grad(),
                    b0.clone().require_grad(),
                );
                let y = if ours {
                    dense(x.clone(), w.clone(), Some(bias.clone()))
                } else {
                    (x.clone().reshape([b * t, k]).matmul(w.clone())
                        + bias.clone().unsqueeze_dim(0))
                    .reshape([b, t, n])
                };
                let grads = (y.clone() * wt.clone()).sum().backward();
                [
                    y.into_data(),
                    x.grad(&grads).expect("grad x").into_data(),
                    w.grad(&grads).expect("grad w").into_data(),
                    bias.grad(&grads).expect("grad bias").into_data(),
                ]
            };
            let (p, q) = (run(true), run(false));
            for (what, (p, q)) in ["value", "dX", "dW", "dbias"].iter().zip(p.iter().zip(&q)) {
                assert_close(p, q, &format!("{b}x{t}x{k}x{n} {what}"));
            }
        }
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
                assert_close(p, q, &format!("{m}x{k}x{n} {what}"));
            }
        }
    }
}
