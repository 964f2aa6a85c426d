//! One optimisation step of MusicVAE, shared by the training loop and the benchmark: encode,
//! z = μ + σ·ε, decode (teacher-forced or with scheduled sampling), loss with free bits and β,
//! backward, global-norm clipping (a non-finite or huge norm skips the step), Adam at the
//! scheduled learning rate.

use super::clip::{add_grads, drop_grads, global_norm, scale_grads};
use super::parallel;
use crate::model::batch::{Batch, TrackSpec};
use crate::model::dropout::InputDropout;
use crate::model::loss::{correct_counts, vae_loss};
use crate::model::noise::StepNoise;
use crate::model::vae::DecodeMode;
use crate::model::{Config, MusicVae};
use crate::rng::Rng;
use burn::module::Module;
use burn::optim::{GradientsParams, Optimizer};
use burn::tensor::{backend::AutodiffBackend, backend::Backend, Int, Tensor, TensorData};

/// The scalars of one step (read from the device once).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepResult {
    pub loss: f64,
    pub r_loss: f64,
    /// Mean KL over the batch, nats.
    pub kl: f64,
    /// Correct argmax predictions, summed over tracks and steps.
    pub correct: f64,
    pub global_norm: f64,
    pub skipped: bool,
}

/// ε ~ N(0, I) `[batch, z]` from the host RNG (so runs are reproducible and resumable).
pub fn host_normals<B: Backend>(
    rng: &mut Rng,
    batch: usize,
    z: usize,
    device: &B::Device,
) -> Tensor<B, 2> {
    Tensor::from_data(TensorData::new(rng.normals(batch * z), [batch, z]), device)
    // [B, Z]
}

/// The decoding mode of a training step: teacher forcing, or (with probability `p_sample` per
/// example and step) the model's own temperature-1 samples fed back.
pub fn scheduled_mode<B: Backend>(
    rng: &mut Rng,
    batch: &Batch<B>,
    specs: &[TrackSpec],
    p_sample: f64,
    device: &B::Device,
) -> DecodeMode<B> {
    let [b, steps, _] = batch.inputs.dims();
    if p_sample <= 0.0 {
        return DecodeMode::TeacherForced {
            inputs: batch.inputs.clone(),
        };
    }
    let mask: Vec<f32> = (0..b * steps)
        .map(|_| if rng.uniform() < p_sample { 1.0 } else { 0.0 })
        .collect();
    if mask.iter().all(|&m| m == 0.0) {
        return DecodeMode::TeacherForced {
            inputs: batch.inputs.clone(),
        };
    }
    let mask = Tensor::from_data(TensorData::new(mask, [b, steps]), device); // [B, T]
    DecodeMode::Stepwise {
        inputs: Some(batch.inputs.clone()),
        noise: StepNoise::draw(rng, specs, b, steps, 1.0, Some(mask), device),
    }
}

/// What one part of a step gives back: its gradients (of its loss weighted by its share of the
/// batch) and its weighted statistics `[loss, r_loss, kl, correct per track…]` on the inner backend.
struct PartResult<B: AutodiffBackend> {
    grads: GradientsParams,
    stats: Tensor<B::InnerBackend, 1>,
}

/// Forward and backward of `model` on one part of a batch, its loss weighted by `weight`.
#[allow(clippy::too_many_arguments)]
fn part_gradients<B: AutodiffBackend>(
    model: &MusicVae<B>,
    config: &Config,
    inputs: Tensor<B, 3>,
    targets: &[Tensor<B, 2, Int>],
    eps: Tensor<B, 2>,
    mode: DecodeMode<B>,
    drop: Option<&InputDropout<B>>,
    step: u64,
    weight: f64,
) -> PartResult<B> {
    let mc = &config.model;
    let (mu, sigma) = model.encode_dropped(inputs, drop); // [b, Z] each
    let z = mu.clone() + sigma.clone() * eps; // [b, Z]
    let out = model.decode_dropped(z, mode, drop);
    let terms = vae_loss(
        &out.logits,
        targets,
        mu,
        sigma,
        mc.free_nats(),
        mc.beta(step),
    );
    let correct = correct_counts(&out.logits, targets);
    let loss = if weight == 1.0 {
        terms.loss
    } else {
        terms.loss.mul_scalar(weight) // [1]
    };
    let mut stats = vec![
        loss.clone().inner(),
        terms.r_loss.inner().mean().mul_scalar(weight),
        terms.kl.inner().mean().mul_scalar(weight),
    ];
    stats.extend(correct.iter().map(|c| c.clone().inner().float()));
    let grads = loss.backward();
    PartResult {
        grads: GradientsParams::from_grads(grads, model),
        stats: Tensor::cat(stats, 0), // [3 + tracks]
    }
}

/// The gradients of the whole batch: in one piece (`parts` ≤ 1), or as the sum of `parts` parts,
/// each run on its own core by its own copy of the model's autodiff graph (see
/// [`super::parallel`]).
#[allow(clippy::too_many_arguments)]
fn batch_gradients<B: AutodiffBackend>(
    model: &MusicVae<B>,
    config: &Config,
    batch: &Batch<B>,
    eps: Tensor<B, 2>,
    mode: DecodeMode<B>,
    drop: Option<&InputDropout<B>>,
    step: u64,
    parts: usize,
) -> PartResult<B> {
    let [n, _, _] = batch.inputs.dims();
    if parts <= 1 {
        let inputs = batch.inputs.clone();
        return part_gradients(
            model,
            config,
            inputs,
            &batch.targets,
            eps,
            mode,
            drop,
            step,
            1.0,
        );
    }
    let device = batch.inputs.device();
    let inputs: Vec<_> = parallel::split(n, parts)
        .into_iter()
        .map(|(start, len)| {
            let targets: Vec<_> = batch
                .targets
                .iter()
                .map(|t| t.clone().narrow(0, start, len)) // [len, T]
                .collect();
            (
                model.clone(),
                batch.inputs.clone().narrow(0, start, len), // [len, T, W]
                targets,
                eps.clone().narrow(0, start, len), // [len, Z]
                mode.rows(start, len),
                drop.map(|d| d.rows(start, len)),
                len as f64 / n as f64,
            )
        })
        .collect();
    let results = parallel::run(inputs, |(part, x, targets, eps, mode, drop, weight)| {
        // Fresh autodiff nodes for the parameters (same ids): each part builds its own graph.
        let part = part.fork(&device);
        let drop = drop.as_ref();
        part_gradients(&part, config, x, &targets, eps, mode, drop, step, weight)
    });
    let mut results = results.into_iter();
    let Some(mut total) = results.next() else {
        unreachable!("a split batch has at least one part")
    };
    for r in results {
        add_grads::<B, _>(model, &mut total.grads, r.grads);
        total.stats = total.stats + r.stats;
    }
    total
}

/// Run one step at global step `step` (with the input-dropout masks `drop` when the config
/// drops inputs) and return the updated model.
#[allow(clippy::too_many_arguments)]
pub fn optimisation_step<B: AutodiffBackend, O: Optimizer<MusicVae<B>, B>>(
    model: MusicVae<B>,
    optim: &mut O,
    config: &Config,
    batch: &Batch<B>,
    eps: Tensor<B, 2>,
    mode: DecodeMode<B>,
    drop: Option<&InputDropout<B>>,
    step: u64,
) -> (MusicVae<B>, StepResult) {
    let tc = &config.train;
    let parts = parallel::parts::<B>(batch.inputs.dims()[0]);
    let PartResult {
        grads: mut gp,
        stats,
    } = batch_gradients(&model, config, batch, eps, mode, drop, step, parts);
    if tc.freeze_decoder {
        // Only the encoder (and its μ, σ layers) learns: the decoder's weights stay as loaded.
        for core in &model.cores {
            drop_grads::<B, _>(core, &mut gp);
        }
        if let Some(c) = &model.conductor {
            drop_grads::<B, _>(c, &mut gp);
        }
    }
    let norm = global_norm::<B, _>(&model, &gp);
    let skipped = !norm.is_finite() || norm > tc.grad_norm_skip;
    let model = if skipped {
        model
    } else {
        if norm > tc.grad_clip {
            scale_grads::<B, _>(&model, &mut gp, tc.grad_clip / norm);
        }
        optim.step(tc.learning_rate_at(step), model, gp)
    };
    let s: Vec<f64> = stats
        .into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap_or_default();
    let get = |i: usize| s.get(i).copied().unwrap_or(f64::NAN);
    let result = StepResult {
        loss: get(0),
        r_loss: get(1),
        kl: get(2),
        correct: s.iter().skip(3).sum(),
        global_norm: norm,
        skipped,
    };
    (model, result)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::train_speed::random_windows;
    use crate::model::batch::make_batch;
    use burn::backend::{Autodiff, NdArray};
    use burn::module::{ModuleVisitor, Param};

    type Ad = Autodiff<NdArray<f32>>;

    /// Every parameter's gradient, flattened, in visiting order.
    struct Collect<'a> {
        grads: &'a GradientsParams,
        out: Vec<Vec<f32>>,
        /// Each parameter's number of values.
        sizes: Vec<usize>,
    }

    impl ModuleVisitor<Ad> for Collect<'_> {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Ad, D>>) {
            let g = self
                .grads
                .get::<NdArray<f32>, D>(param.id)
                .map(|g| g.into_data().to_vec::<f32>().unwrap_or_default())
                .unwrap_or_default();
            self.sizes.push(param.val().shape().num_elements());
            self.out.push(g);
        }
    }

    /// Every float parameter's values, flattened, in visiting order.
    struct Values(Vec<Vec<f32>>);

    impl ModuleVisitor<Ad> for Values {
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<Ad, D>>) {
            self.0
                .push(param.val().into_data().to_vec::<f32>().unwrap_or_default());
        }
    }

    fn values<M: Module<Ad>>(m: &M) -> Vec<Vec<f32>> {
        let mut v = Values(Vec::new());
        m.visit(&mut v);
        v.0
    }

    /// `train.freeze_decoder`: a step moves the encoder's weights and leaves every decoder
    /// weight (flat core; conductor and cores of a hierarchical model) exactly as it was.
    #[test]
    fn a_frozen_decoder_keeps_its_weights() {
        for preset in ["tiny", "tiny-hier"] {
            let mut config = Config::preset(preset).expect("preset");
            config.train.freeze_decoder = true;
            let mc = &config.model;
            let device = Default::default();
            let model = MusicVae::<Ad>::new(mc, 3, &device);
            let windows = random_windows(mc.data.kind, mc.data.steps(), 8, 5);
            let refs: Vec<_> = windows.iter().collect();
            let batch = make_batch::<Ad>(mc.data.kind, &refs, &device);
            let mut rng = Rng::new(4);
            let eps = host_normals::<Ad>(&mut rng, refs.len(), mc.z_size, &device);
            let mode = DecodeMode::TeacherForced {
                inputs: batch.inputs.clone(),
            };
            let (enc0, cores0, cond0) = (
                values(&model.encoder),
                values(&model.cores),
                model.conductor.as_ref().map(values),
            );
            let mut optim = crate::train::adam::init::<Ad>(&config.train);
            let (next, r) =
                optimisation_step(model, &mut optim, &config, &batch, eps, mode, None, 0);
            assert!(!r.skipped, "{preset}");
            assert_ne!(values(&next.encoder), enc0, "{preset}: the encoder learns");
            assert_eq!(values(&next.cores), cores0, "{preset}: decoder moved");
            assert_eq!(next.conductor.as_ref().map(values), cond0, "{preset}");
        }
    }

    /// The gradient and statistics of a batch cut into 2 or 3 parts (3: uneven) agree with the
    /// batch in one piece, teacher-forced and with scheduled sampling, for a flat melody model, a
    /// hierarchical one and the drum model.
    #[test]
    fn split_batch_gives_the_whole_batch_gradient() {
        for preset in ["tiny", "tiny-hier", "cat-drums_2bar_small"] {
            split_batch_case(preset);
        }
    }

    fn split_batch_case(preset: &str) {
        let config = Config::preset(preset).expect("preset");
        let mc = &config.model;
        let device = Default::default();
        let model = MusicVae::<Ad>::new(mc, 3, &device);
        let windows = random_windows(mc.data.kind, mc.data.steps(), 17, 5);
        let refs: Vec<_> = windows.iter().collect();
        let batch = make_batch::<Ad>(mc.data.kind, &refs, &device);
        // Input dropout (flat decoders only) with both decoding modes.
        let keeps: &[f64] = if mc.hierarchical.is_none() {
            &[1.0, 0.3]
        } else {
            &[1.0]
        };
        for (p_sample, &keep) in [0.0, 0.5]
            .into_iter()
            .flat_map(|p| keeps.iter().map(move |k| (p, k)))
        {
            let mut rng = Rng::new(9);
            let eps = host_normals::<Ad>(&mut rng, refs.len(), mc.z_size, &device);
            let mode = scheduled_mode(&mut rng, &batch, &model.tracks, p_sample, &device);
            let drop = InputDropout::draw(&mut rng, keep, &model, refs.len());
            let run = |parts| {
                let r = batch_gradients(
                    &model,
                    &config,
                    &batch,
                    eps.clone(),
                    mode.rows(0, 17),
                    drop.as_ref(),
                    100,
                    parts,
                );
                let mut c = Collect {
                    grads: &r.grads,
                    out: Vec::new(),
                    sizes: Vec::new(),
                };
                model.visit(&mut c);
                let stats = r.stats.into_data().to_vec::<f32>().unwrap_or_default();
                (c.out, c.sizes, stats)
            };
            let (whole, sizes, whole_stats) = run(1);
            // Every parameter has its gradient, but for the hierarchical conductor's input weights
            // (its input is zero: its projection is the bias alone, so the weights never enter
            // the graph).
            let missing = (0..whole.len())
                .filter(|&k| whole[k].len() != sizes[k])
                .count();
            let unused = usize::from(preset == "tiny-hier");
            assert_eq!(missing, unused, "{preset}: parameters without a gradient");
            for parts in [2, 3] {
                let (split, _, stats) = run(parts);
                assert_eq!(split.len(), whole.len());
                for (k, (a, b)) in whole.iter().zip(&split).enumerate() {
                    assert_eq!(a.len(), b.len(), "parameter {k}");
                    let scale = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                    let diff = a
                        .iter()
                        .zip(b)
                        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
                    assert!(
                        diff <= 1e-4 * (1.0 + scale),
                        "{preset}, p {p_sample}, keep {keep}, {parts} parts, parameter {k}: max diff {diff} (scale {scale})"
                    );
                }
                for (a, b) in whole_stats.iter().zip(&stats) {
                    assert!(
                        (a - b).abs() <= 1e-4 * (1.0 + a.abs()),
                        "stats {whole_stats:?} vs {stats:?}"
                    );
                }
            }
        }
    }
}
