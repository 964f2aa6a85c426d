//! Weight averaging ("model soup", Wortsman et al. 2022): the element-wise mean of the weights of
//! models of one architecture, e.g. several fine-tunes of the same start. Models trained from
//! different starts do not average into a working model; the caller checks that the configs match.

use crate::error::{Error, Result};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::tensor::{backend::Backend, Tensor, TensorData};

/// Collects every float parameter of a module, in visiting order.
struct Collect {
    params: Vec<(Vec<usize>, Vec<f32>)>,
}

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let t = param.val();
        let shape = t.dims().to_vec();
        let data = t
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap_or_default();
        self.params.push((shape, data));
    }
}

/// Replaces every float parameter by the running sum's mean, in the same visiting order.
struct Replace {
    sums: Vec<(Vec<usize>, Vec<f32>)>,
    next: usize,
    count: f32,
}

impl<B: Backend> ModuleMapper<B> for Replace {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<B, D>>) -> Param<Tensor<B, D>> {
        let (id, tensor, mapper) = param.consume();
        let device = tensor.device();
        let (shape, sum) = &self.sums[self.next];
        self.next += 1;
        let mean: Vec<f32> = sum.iter().map(|x| x / self.count).collect();
        let averaged = Tensor::<B, D>::from_data(TensorData::new(mean, shape.clone()), &device);
        Param::from_mapped_value(id, averaged, mapper)
    }
}

/// The element-wise mean of the float parameters of `models` (at least one), returned as the
/// first model with its weights replaced. Models whose parameters differ in number or shape are
/// refused.
pub fn average<B: Backend, M: Module<B>>(models: Vec<M>) -> Result<M> {
    let mut it = models.into_iter();
    let first = it
        .next()
        .ok_or_else(|| Error::Invalid("no model to average".into()))?;
    let mut sums = collect(&first);
    let mut count = 1.0f32;
    for (k, m) in it.enumerate() {
        let params = collect(&m);
        if params.len() != sums.len() {
            return Err(Error::Invalid(format!(
                "model {} has {} weight tensors, the first has {}: only models of one architecture average",
                k + 2,
                params.len(),
                sums.len()
            )));
        }
        for (i, ((shape, data), (s_shape, sum))) in params.into_iter().zip(&mut sums).enumerate() {
            if &shape != s_shape {
                return Err(Error::Invalid(format!(
                    "weight tensor {i} of model {} is {shape:?}, the first model's is {s_shape:?}: only models of one architecture average",
                    k + 2
                )));
            }
            sum.iter_mut().zip(data).for_each(|(s, x)| *s += x);
        }
        count += 1.0;
    }
    let mut replace = Replace {
        sums,
        next: 0,
        count,
    };
    Ok(first.map(&mut replace))
}

fn collect<B: Backend, M: Module<B>>(m: &M) -> Vec<(Vec<usize>, Vec<f32>)> {
    let mut c = Collect { params: Vec::new() };
    m.visit(&mut c);
    c.params
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::nn::{Linear, LinearConfig};

    type B = NdArray<f32>;

    fn weights(l: &Linear<B>) -> Vec<f32> {
        l.weight
            .val()
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap_or_default()
    }

    #[test]
    fn the_mean_of_two_linears_is_their_element_wise_mean() {
        let dev = Default::default();
        let a = LinearConfig::new(3, 2).init::<B>(&dev);
        let b = LinearConfig::new(3, 2).init::<B>(&dev);
        let (wa, wb) = (weights(&a), weights(&b));
        assert_ne!(wa, wb);
        let m = average::<B, _>(vec![a.clone(), b]).expect("same shapes");
        for ((x, y), z) in wa.iter().zip(&wb).zip(weights(&m)) {
            assert!((z - (x + y) / 2.0).abs() < 1e-6, "{z} vs {x}, {y}");
        }
        // One model averages to itself.
        let same = average::<B, _>(vec![a.clone()]).expect("one model");
        assert_eq!(weights(&same), wa);
    }

    #[test]
    fn different_shapes_are_refused() {
        let dev = Default::default();
        let a = LinearConfig::new(3, 2).init::<B>(&dev);
        let b = LinearConfig::new(4, 2).init::<B>(&dev);
        let Err(e) = average::<B, _>(vec![a, b]) else {
            panic!("different shapes averaged");
        };
        assert!(e.to_string().contains("one architecture"), "{e}");
        assert!(average::<B, Linear<B>>(vec![]).is_err());
    }
}
