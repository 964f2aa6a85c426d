//! Deterministic parameter initialisation from our own seeded RNG (so a seed gives the same model
//! on every backend), with TensorFlow's defaults: Glorot-uniform kernels, zero biases, and
//! N(0, 0.001²) for the layers Magenta initialises that way.

use super::matmul_op;
use burn::module::Param;
use burn::tensor::{backend::Backend, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, Normal};

/// A small seeded RNG used only for initialisation (ChaCha-based `StdRng`); without one
/// ([`InitRng::skeleton`]) every parameter is zero.
pub struct InitRng(Option<rand::rngs::StdRng>);

impl InitRng {
    pub fn new(seed: u64) -> Self {
        InitRng(Some(rand::rngs::StdRng::seed_from_u64(seed)))
    }

    /// Zeros instead of random draws: the shape of a model whose weights are loaded next (drawing
    /// 176 M random numbers for `hierdec-mel_16bar` costs more than reading its file).
    pub fn skeleton() -> Self {
        InitRng(None)
    }

    /// `rows × cols` values from `draw`, or a zero tensor for a skeleton.
    fn matrix<B: Backend>(
        &mut self,
        rows: usize,
        cols: usize,
        device: &B::Device,
        mut draw: impl FnMut(&mut rand::rngs::StdRng) -> f32,
    ) -> Param<Tensor<B, 2>> {
        let t = match &mut self.0 {
            Some(rng) => {
                let v: Vec<f32> = (0..rows * cols).map(|_| draw(rng)).collect();
                Tensor::from_data(TensorData::new(v, [rows, cols]), device)
            }
            None => Tensor::zeros([rows, cols], device),
        };
        Param::from_tensor(t)
    }

    /// Glorot-uniform `[rows, cols]` matrix (TF's default kernel initializer).
    pub fn glorot<B: Backend>(
        &mut self,
        rows: usize,
        cols: usize,
        device: &B::Device,
    ) -> Param<Tensor<B, 2>> {
        let limit = (6.0 / (rows + cols) as f64).sqrt();
        self.matrix(rows, cols, device, |r| r.random_range(-limit..limit) as f32)
    }

    /// Uniform(−limit, limit) `[rows, cols]` matrix.
    pub fn uniform<B: Backend>(
        &mut self,
        rows: usize,
        cols: usize,
        limit: f64,
        device: &B::Device,
    ) -> Param<Tensor<B, 2>> {
        self.matrix(rows, cols, device, |r| r.random_range(-limit..limit) as f32)
    }

    /// N(0, std²) `[rows, cols]` matrix.
    pub fn normal<B: Backend>(
        &mut self,
        rows: usize,
        cols: usize,
        std: f64,
        device: &B::Device,
    ) -> Param<Tensor<B, 2>> {
        let n =
            Normal::new(0.0, std).unwrap_or_else(|_| Normal::new(0.0, 1e-3).expect("valid normal"));
        self.matrix(rows, cols, device, |r| n.sample(r) as f32)
    }

    /// A zero vector.
    pub fn zeros<B: Backend>(&mut self, n: usize, device: &B::Device) -> Param<Tensor<B, 1>> {
        Param::from_tensor(Tensor::zeros([n], device))
    }
}

/// A dense layer `y = x W + b` with explicitly initialised parameters.
#[derive(burn::module::Module, Debug)]
pub struct Dense<B: Backend> {
    /// `[d_in, d_out]`
    pub weight: Param<Tensor<B, 2>>,
    /// `[d_out]`
    pub bias: Param<Tensor<B, 1>>,
}

impl<B: Backend> Dense<B> {
    pub fn glorot(d_in: usize, d_out: usize, rng: &mut InitRng, device: &B::Device) -> Self {
        Dense {
            weight: rng.glorot(d_in, d_out, device),
            bias: rng.zeros(d_out, device),
        }
    }
    pub fn normal(
        d_in: usize,
        d_out: usize,
        std: f64,
        rng: &mut InitRng,
        device: &B::Device,
    ) -> Self {
        Dense {
            weight: rng.normal(d_in, d_out, std, device),
            bias: rng.zeros(d_out, device),
        }
    }
    /// `[batch, d_in]` → `[batch, d_out]`
    pub fn forward2(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        matmul_op::dense(x, self.weight.val(), Some(self.bias.val()))
    }
    /// `[batch, steps, d_in]` → `[batch, steps, d_out]`
    pub fn forward3(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        matmul_op::dense(x, self.weight.val(), Some(self.bias.val())) // [b, t, d_out]
    }
    pub fn d_out(&self) -> usize {
        self.bias.dims()[0]
    }
}
