//! The recurrence of one LSTM layer over a whole sequence as **one operation** of the tensor graph,
//! with its own backward pass (burn's custom autodiff operations: a [`Backward`] registered as one
//! node). Without it, every time step is a handful of small autodiff nodes (matmul, slices,
//! activations, products), each with its own allocation, and backward walks all of them.
//!
//! The operation takes the projected input `xp = x·W_ih + b` `[B, T, 4H]` (computed by ordinary
//! tensor ops, so `W_ih` and `b` get their gradients from one large product), the recurrent weights
//! `W_hh` `[H, 4H]` and the initial state, and returns the packed output `[B, T + 1, H]` described in
//! [`super::lstm_kernel`]. The kernel runs on host memory; it serves the CPU backend (burn-ndarray)
//! and its autodiff wrapper. Other backends (CUDA) keep the per-step graph: [`supported`] says which
//! path a backend takes. `MUSICVAE_LSTM=steps` forces the per-step graph everywhere (for
//! benchmarks and agreement checks).

use super::lstm_kernel::{self, Saved, SeqDims};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::{Autodiff, NdArray};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData, TensorPrimitive};
use std::any::{Any, TypeId};
use std::sync::{Arc, OnceLock};

type Cpu = NdArray<f32>;
type CpuAutodiff = Autodiff<NdArray<f32>>;

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
fn same_type<A: 'static, T: 'static>(a: A) -> T {
    let boxed: Box<dyn Any> = Box::new(a);
    match boxed.downcast::<T>() {
        Ok(t) => *t,
        Err(_) => unreachable!("callers compare TypeIds first"),
    }
}

/// The recurrence of one layer: `xp` `[B, T, 4H]`, `w_hh` `[H, 4H]`, `h0`/`c0` `[B, H]` → packed
/// `[B, T + 1, H]` (outputs at their input positions, then the final cell state).
///
/// Only call when [`supported::<B>()`](supported) is true.
pub fn recurrence<B: Backend>(
    xp: Tensor<B, 3>,
    w_hh: Tensor<B, 2>,
    h0: Tensor<B, 2>,
    c0: Tensor<B, 2>,
    forget_bias: f64,
    reverse: bool,
) -> Tensor<B, 3> {
    let id = TypeId::of::<B>();
    if id == TypeId::of::<CpuAutodiff>() {
        let out = autodiff_recurrence::<Cpu, _>(
            same_type::<_, Tensor<CpuAutodiff, 3>>(xp),
            same_type(w_hh),
            same_type(h0),
            same_type(c0),
            forget_bias,
            reverse,
        );
        same_type(out)
    } else if id == TypeId::of::<Cpu>() {
        let (out, _) = host_forward::<Cpu>(
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

fn host_vec<B: Backend, const D: usize>(x: Tensor<B, D>) -> Vec<f32> {
    x.into_data()
        .convert::<f32>()
        .into_vec::<f32>()
        .unwrap_or_else(|e| unreachable!("f32 data converted to f32: {e:?}"))
}

/// Forward on host memory for a backend whose data can be read (the inner backend).
fn host_forward<B: Backend>(
    xp: Tensor<B, 3>,
    w_hh: Tensor<B, 2>,
    h0: Tensor<B, 2>,
    c0: Tensor<B, 2>,
    forget_bias: f64,
    reverse: bool,
    keep: bool,
) -> (Tensor<B, 3>, Option<Saved>) {
    let [batch, steps, g4] = xp.dims();
    let hidden = g4 / 4;
    let device = xp.device();
    let dims = SeqDims {
        batch,
        steps,
        hidden,
    };
    let (out, saved) = lstm_kernel::forward(
        dims,
        &host_vec(xp),
        Arc::new(host_vec(w_hh)),
        &host_vec(h0),
        &host_vec(c0),
        forget_bias as f32,
        reverse,
        keep,
    );
    let out = Tensor::from_data(TensorData::new(out, [batch, steps + 1, hidden]), &device); // [B, T+1, H]
    (out, saved)
}

/// The backward step of the recurrence node (parents: xp, W_hh, h0, c0).
#[derive(Debug)]
struct RecurrenceBackward;

impl<I: Backend> Backward<I, 4> for RecurrenceBackward {
    type State = (Arc<Saved>, I::Device);

    fn backward(self, ops: Ops<Self::State, 4>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (saved, device) = ops.state;
        let grad = grads.consume::<I>(&ops.node); // [B, T+1, H]
        let d_out = host_vec(Tensor::<I, 3>::from_primitive(TensorPrimitive::Float(grad)));
        let g = lstm_kernel::backward(&saved, &d_out);
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
                let tensor = I::float_from_data(TensorData::new(values, shape), &device);
                grads.register::<I>(node.id, tensor);
            }
        }
    }
}

fn autodiff_recurrence<I: Backend, C: CheckpointStrategy>(
    xp: Tensor<Autodiff<I, C>, 3>,
    w_hh: Tensor<Autodiff<I, C>, 2>,
    h0: Tensor<Autodiff<I, C>, 2>,
    c0: Tensor<Autodiff<I, C>, 2>,
    forget_bias: f64,
    reverse: bool,
) -> Tensor<Autodiff<I, C>, 3> {
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
    let inner3 = |p| Tensor::<I, 3>::from_primitive(TensorPrimitive::Float(p));
    let inner2 = |p| Tensor::<I, 2>::from_primitive(TensorPrimitive::Float(p));
    let xp_i = inner3(xp.primitive);
    let device = xp_i.device();
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
    let prepared = <RecurrenceBackward as Backward<I, 4>>::prepare::<C>(RecurrenceBackward, nodes)
        .compute_bound()
        .stateful();
    let out = match prepared {
        OpsKind::Tracked(prep) => {
            let (out, saved) = run(true);
            let saved = saved.unwrap_or_else(|| unreachable!("forward asked to keep its state"));
            prep.finish((Arc::new(saved), device), out.into_primitive().tensor())
        }
        OpsKind::UnTracked(prep) => prep.finish(run(false).0.into_primitive().tensor()),
    };
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
