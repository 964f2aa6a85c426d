//! Global-norm gradient clipping (burn's own clipping is per tensor; MusicVAE clips by the norm of
//! all gradients together, like `tf.clip_by_global_norm`).

use burn::module::{AutodiffModule, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{backend::AutodiffBackend, Tensor};

struct SumSquares<'a, B: AutodiffBackend> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<B::InnerBackend, 1>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for SumSquares<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.get::<B::InnerBackend, D>(param.id) {
            let s = g.powf_scalar(2.0).sum(); // [1]
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        if let Some(g) = self.grads.remove::<B::InnerBackend, D>(param.id) {
            self.grads
                .register::<B::InnerBackend, D>(param.id, g.mul_scalar(self.factor));
        }
    }
}

struct Drop<'a> {
    grads: &'a mut GradientsParams,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Drop<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.grads.remove::<B::InnerBackend, D>(param.id);
    }
}

/// Remove the gradients of `module`'s parameters from `grads` (the optimizer then leaves those
/// parameters as they are).
pub fn drop_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    module: &M,
    grads: &mut GradientsParams,
) {
    module.visit(&mut Drop { grads });
}

struct Add<'a> {
    grads: &'a mut GradientsParams,
    other: GradientsParams,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Add<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let Some(o) = self.other.remove::<B::InnerBackend, D>(param.id) else {
            return;
        };
        let sum = match self.grads.remove::<B::InnerBackend, D>(param.id) {
            Some(g) => g + o,
            None => o,
        };
        self.grads.register::<B::InnerBackend, D>(param.id, sum);
    }
}

/// Add the gradients in `other` to those in `grads`, parameter by parameter.
pub fn add_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    other: GradientsParams,
) {
    let mut v = Add { grads, other };
    model.visit(&mut v);
}

/// The global L2 norm of all gradients of `model` (one device → host read).
pub fn global_norm<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &GradientsParams,
) -> f64 {
    let mut v = SumSquares::<B> { grads, sum: None };
    model.visit(&mut v);
    match v.sum {
        Some(s) => {
            let x: f64 = s
                .into_data()
                .convert::<f64>()
                .to_vec::<f64>()
                .ok()
                .and_then(|v| v.first().copied())
                .unwrap_or(f64::NAN);
            x.sqrt()
        }
        None => 0.0,
    }
}

/// Multiply every gradient by `factor`.
pub fn scale_grads<B: AutodiffBackend, M: AutodiffModule<B>>(
    model: &M,
    grads: &mut GradientsParams,
    factor: f64,
) {
    let mut v = Scale { grads, factor };
    model.visit(&mut v);
}
