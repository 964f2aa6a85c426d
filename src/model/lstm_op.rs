//! The recurrence of one LSTM layer over a whole sequence as **one operation** of the tensor graph,
//! with its own backward pass (burn's custom autodiff operations: a [`Backward`] registered as one
//! node). Without it, every time step is a handful of small autodiff nodes (matmul, slices,
//! activations, products), each with its own allocation, and backward walks all of them.
//!
//! The operation takes the projected input `xp = x·W_ih + b` `[B, T, 4H]` (computed by ordinary
//! tensor ops, so `W_ih` and `b` get their gradients from one large product), the recurrent weights
//! `W_hh` `[H, 4H]` and the initial state, and returns the packed output `[B·T + B, H]` described in
//! [`super::lstm_kernel`]. The kernel runs on host memory; it serves the CPU backend (burn-ndarray)
//! and its autodiff wrapper. Other backends (CUDA) keep the per-step graph: [`supported`] says which
//! path a backend takes. `MUSICVAE_LSTM=steps` forces the per-step graph everywhere (for
//! benchmarks and agreement checks).

use super::lstm_kernel::{self, Saved, SeqDims};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ndarray::NdArrayTensor;
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensorOps;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use std::any::{Any, TypeId};
use std::sync::{Arc, OnceLock};

pub(super) type Cpu = NdArray<f32>;
pub(super) type CpuAutodiff = Autodiff<NdArray<f32>>;

fn forced_steps() -> bool {
    static STEPS: OnceLock<bool> = OnceLock::new();
    *STEPS.get_or_init(|| std::env::var("MUSICVAE_LSTM").is_ok_and(|v| v == "steps"))
}

/// Whether backend `B` runs the fused whole-sequence recurrence.
pub fn supported<B: Backend>() -> bool {
    let id = TypeId::of::<B>();
    !forced_steps() && (id == TypeId::of::<Cpu>() || id == TypeId::of::<CpuAutodiff>())
}

/// Move a value between two generic types that [`TypeId`] has shown to be the same type.
pub(crate) fn same_type<A: 'static, T: 'static>(a: A) -> T {
    let boxed: Box<dyn Any> = Box::new(a);
    match boxed.downcast::<T>() {
        Ok(t) => *t,
        Err(_) => unreachable!("callers compare TypeIds first"),
    }
}

/// The recurrence of one layer: `xp` `[B, T, 4H]`, `w_hh` `[H, 4H]`, `h0`/`c0` `[B, H]` → packed
/// `[B·T + B, H]` (outputs `[B, T, H]` at their input positions, then the final cell states `[B, H]`).
///
/// Only call when [`supported::<B>()`](supported) is true.
pub fn recurrence<B: Backend>(
    xp: Tensor<B, 3>,
    w_hh: Tensor<B, 2>,
    h0: Tensor<B, 2>,
    c0: Tensor<B, 2>,
    forget_bias: f64,
    reverse: bool,
) -> Tensor<B, 2> {
    let id = TypeId::of::<B>();
    if id == TypeId::of::<CpuAutodiff>() {
        let out = autodiff_recurrence::<_>(
            same_type::<_, Tensor<CpuAutodiff, 3>>(xp),
            same_type(w_hh),
            same_type(h0),
            same_type(c0),
            forget_bias,
            reverse,
        );
        same_type(out)
    } else if id == TypeId::of::<Cpu>() {
        let (out, _) = host_forward(
            same_type(xp),
            same_type(w_hh),
            same_type(h0),
            same_type(c0),
            forget_bias,
            reverse,
            false,
        );
        same_type(out)
    } else {
        unreachable!("recurrence called for a backend without the fused path")
    }
}

/// Run `f` on the values of a CPU tensor as one row-major slice, without copying when the tensor's
/// storage already is one (the usual case).
pub(super) fn with_slice<const D: usize, R>(x: Tensor<Cpu, D>, f: impl FnOnce(&[f32]) -> R) -> R {
    match x.into_primitive().tensor() {
        NdArrayTensor::F32(storage) => {
            let view = storage.view();
            match view.as_slice() {
                Some(values) => f(values),
                None => f(&view.iter().copied().collect::<Vec<f32>>()),
            }
        }
        other => {
            let values = Tensor::<Cpu, D>::from_primitive(TensorPrimitive::Float(other))
                .into_data()
                .convert::<f32>()
                .into_vec::<f32>()
                .unwrap_or_else(|e| unreachable!("f32 data converted to f32: {e:?}"));
            f(&values)
        }
    }
}

/// A tensor's values, row-major, as a host vector. On the CPU backend (and its autodiff wrapper)
/// one copy of its storage; elsewhere through `into_data` (whose per-element conversion made
/// reading decoder weights the largest cost of stepwise decoding on the CPU).
pub fn host_values<B: Backend, const D: usize>(x: Tensor<B, D>) -> Vec<f32> {
    let id = TypeId::of::<B>();
    if id == TypeId::of::<Cpu>() {
        with_slice(same_type::<_, Tensor<Cpu, D>>(x), |v| v.to_vec())
    } else if id == TypeId::of::<CpuAutodiff>() {
        with_slice(same_type::<_, Tensor<CpuAutodiff, D>>(x).inner(), |v| {
            v.to_vec()
        })
    } else {
        x.into_data()
            .convert::<f32>()
            .into_vec::<f32>()
            .unwrap_or_else(|e| unreachable!("f32 data converted to f32: {e:?}"))
    }
}

/// Forward on the CPU backend's memory.
fn host_forward(
    xp: Tensor<Cpu, 3>,
    w_hh: Tensor<Cpu, 2>,
    h0: Tensor<Cpu, 2>,
    c0: Tensor<Cpu, 2>,
    forget_bias: f64,
    reverse: bool,
    keep: bool,
) -> (Tensor<Cpu, 2>, Option<Saved>) {
    let [batch, steps, g4] = xp.dims();
    let hidden = g4 / 4;
    let device = xp.device();
    let dims = SeqDims {
        batch,
        steps,
        hidden,
    };
    let w_hh = Arc::new(with_slice(w_hh, <[f32]>::to_vec));
    let (out, saved) = with_slice(xp, |xp| {
        with_slice(h0, |h0| {
            with_slice(c0, |c0| {
                lstm_kernel::forward(dims, xp, w_hh, h0, c0, forget_bias as f32, reverse, keep)
            })
        })
    });
    let out = Tensor::from_data(
        TensorData::new(out, [batch * steps + batch, hidden]),
        &device,
    ); // [B·T + B, H]
    (out, saved)
}

/// The backward step of the recurrence node (parents: xp, W_hh, h0, c0).
#[derive(Debug)]
struct RecurrenceBackward;

impl Backward<Cpu, 4> for RecurrenceBackward {
    type State = Arc<Saved>;

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let saved = ops.state;
        let grad = grads.consume::<Cpu>(&ops.node); // [B·T + B, H]
        let grad = Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(grad));
        let device = grad.device();
        let g = with_slice(grad, |d_out| lstm_kernel::backward(&saved, d_out));
        let SeqDims {
            batch: b,
            steps: t,
            hidden: h,
        } = saved.dims;
        let parts = [
            (g.xp, vec![b, t, 4 * h]),
            (g.w_hh, vec![h, 4 * h]),
            (g.h0, vec![b, h]),
            (g.c0, vec![b, h]),
        ];
        for (parent, (values, shape)) in ops.parents.into_iter().zip(parts) {
            if let Some(node) = parent {
                let tensor = Cpu::float_from_data(TensorData::new(values, shape), &device);
                grads.register::<Cpu>(node.id, tensor);
            }
        }
    }
}

fn autodiff_recurrence<C: CheckpointStrategy>(
    xp: Tensor<Autodiff<Cpu, C>, 3>,
    w_hh: Tensor<Autodiff<Cpu, C>, 2>,
    h0: Tensor<Autodiff<Cpu, C>, 2>,
    c0: Tensor<Autodiff<Cpu, C>, 2>,
    forget_bias: f64,
    reverse: bool,
) -> Tensor<Autodiff<Cpu, C>, 2> {
    let xp = xp.into_primitive().tensor();
    let w_hh = w_hh.into_primitive().tensor();
    let h0 = h0.into_primitive().tensor();
    let c0 = c0.into_primitive().tensor();
    let nodes = [
        xp.node.clone(),
        w_hh.node.clone(),
        h0.node.clone(),
        c0.node.clone(),
    ];
    let inner3 = |p| Tensor::<Cpu, 3>::from_primitive(TensorPrimitive::Float(p));
    let inner2 = |p| Tensor::<Cpu, 2>::from_primitive(TensorPrimitive::Float(p));
    let xp_i = inner3(xp.primitive);
    let run = |keep| {
        host_forward(
            xp_i,
            inner2(w_hh.primitive),
            inner2(h0.primitive),
            inner2(c0.primitive),
            forget_bias,
            reverse,
            keep,
        )
    };
    let prepared =
        <RecurrenceBackward as Backward<Cpu, 4>>::prepare::<C>(RecurrenceBackward, nodes)
            .compute_bound()
            .stateful();
    let out = match prepared {
        OpsKind::Tracked(prep) => {
            let (out, saved) = run(true);
            let saved = saved.unwrap_or_else(|| unreachable!("forward asked to keep its state"));
            prep.finish(Arc::new(saved), out.into_primitive().tensor())
        }
        OpsKind::UnTracked(prep) => prep.finish(run(false).0.into_primitive().tensor()),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
