//! The core decoder shared by the flat and hierarchical models: an LSTM stack whose states start at
//! tanh(dense(conditioning)), whose input at every step is previous-token encoding ‖ conditioning, and
//! whose top output goes through a dense layer to logits. Two ways to run it: teacher-forced (inputs
//! known, whole sequence) and stepwise with the model's own samples fed back (scheduled sampling,
//! free-running evaluation and generation). The decode modes and outputs of the flat and hierarchical
//! decoders, and what both use (input shift, track split, token encoding, argmax), are here too.

use super::batch::{TrackInput, TrackSpec};
use super::init::{Dense, InitRng};
use super::lstm::{LstmState, StackedLstm};
use super::lstm_op;
use super::matmul_op;
use super::noise::StepNoise;
use super::stepwise_kernel;
use burn::module::Module;
use burn::tensor::activation::tanh;
use burn::tensor::{backend::Backend, Int, Tensor, TensorData};

/// One decoder LSTM stack with its conditioning and output layers.
#[derive(Module, Debug)]
pub struct CoreDecoder<B: Backend> {
    pub lstm: StackedLstm<B>,
    /// conditioning → initial states (N(0, 0.001²) kernel, as Magenta's `z_to_initial_state`).
    pub init: Dense<B>,
    /// top h → logits of every output track, concatenated.
    pub out: Dense<B>,
    /// Width of the previous-token part of the input.
    pub in_width: usize,
}

/// Decoder outputs.
#[derive(Debug, Clone)]
pub struct DecodeOut<B: Backend> {
    /// Per track `[B, T, depth]`.
    pub logits: Vec<Tensor<B, 3>>,
    /// Per track `[B, T]`: argmax (teacher forcing) or the tokens fed back (stepwise).
    pub tokens: Vec<Tensor<B, 2, Int>>,
}

/// How to decode.
#[derive(Debug, Clone)]
pub enum DecodeMode<B: Backend> {
    /// True previous tokens as inputs. `inputs` `[B, T, W]` are the (unshifted) encoded tokens.
    TeacherForced { inputs: Tensor<B, 3> },
    /// Step by step, feeding back samples where `noise.feed_sample` says (all of them if None and no inputs).
    Stepwise {
        inputs: Option<Tensor<B, 3>>,
        noise: StepNoise<B>,
    },
}

impl<B: Backend> DecodeMode<B> {
    /// The same mode for batch rows `start..start + len` (one part of a data-parallel step).
    pub fn rows(&self, start: usize, len: usize) -> Self {
        match self {
            DecodeMode::TeacherForced { inputs } => DecodeMode::TeacherForced {
                inputs: inputs.clone().narrow(0, start, len), // [len, T, W]
            },
            DecodeMode::Stepwise { inputs, noise } => DecodeMode::Stepwise {
                inputs: inputs.clone().map(|x| x.narrow(0, start, len)), // [len, T, W]
                noise: noise.rows(start, len),
            },
        }
    }
}

impl<B: Backend> CoreDecoder<B> {
    pub fn new(
        in_width: usize,
        cond: usize,
        sizes: &[usize],
        out: usize,
        forget_bias: f64,
        rng: &mut InitRng,
        device: &B::Device,
    ) -> Self {
        let lstm = StackedLstm::new(in_width + cond, sizes, forget_bias, rng, device);
        let init = Dense::normal(cond, lstm.state_width(), 0.001, rng, device);
        let out = Dense::glorot(lstm.top_size(), out, rng, device);
        CoreDecoder {
            lstm,
            init,
            out,
            in_width,
        }
    }

    fn initial(&self, cond: Tensor<B, 2>) -> Vec<LstmState<B>> {
        self.lstm.split_state(tanh(self.init.forward2(cond))) // per layer [N, H]
    }

    /// Time-constant part of the first layer's projection: cond W + b → `[N, 4H]`.
    fn cond_projection(&self, cond: Tensor<B, 2>) -> Tensor<B, 2> {
        let l0 = &self.lstm.layers[0];
        l0.project_part(cond, self.in_width) + l0.bias.val().unsqueeze_dim(0)
    }

    fn token_weights(&self) -> Tensor<B, 2> {
        self.lstm.layers[0].w_ih.val().narrow(0, 0, self.in_width) // [in_width, 4H]
    }

    /// Teacher forcing: `prev` `[N, T, in_width]` (inputs shifted right by one), `cond` `[N, C]` → logits `[N, T, out]`.
    pub fn teacher_forced(&self, prev: Tensor<B, 3>, cond: Tensor<B, 2>) -> Tensor<B, 3> {
        self.teacher_forced_dropped(prev, cond, None)
    }

    /// [`teacher_forced`](Self::teacher_forced) with input dropout while training: `masks` holds
    /// one mask `[N, T, d_in]` per layer ([`super::dropout`]; layer 0's covers the previous token
    /// and the conditioning, which then is projected at every step instead of once).
    pub fn teacher_forced_dropped(
        &self,
        prev: Tensor<B, 3>,
        cond: Tensor<B, 2>,
        masks: Option<&[Tensor<B, 3>]>,
    ) -> Tensor<B, 3> {
        let states = self.initial(cond.clone());
        // An empty mask set (a hierarchical model's, which keeps every input) means no dropout.
        if let Some(masks) = masks.filter(|m| !m.is_empty()) {
            assert_eq!(
                masks.len(),
                self.lstm.layers.len(),
                "input dropout needs one mask per decoder layer"
            );
            let t = prev.dims()[1];
            let cond = cond.unsqueeze_dim::<3>(1).repeat_dim(1, t); // [N, T, C]

            // Each layer's input, then (after the loop) the top layer's output.
            let mut x = Tensor::cat(vec![prev, cond], 2); // [N, T, in_width + C]
            for ((layer, st), mask) in self.lstm.layers.iter().zip(states).zip(masks) {
                let xp = layer.project(x * mask.clone()); // [N, T, 4H]
                x = layer.seq_projected(xp, st, false).0; // [N, T, H]
            }
            return self.out.forward3(x); // [N, T, out]
        }
        let cp = self.cond_projection(cond); // [N, 4H]
        let xp = matmul_op::dense(prev, self.token_weights(), None) + cp.unsqueeze_dim(1); // [N, T, 4H]
        let (h, _) = self.lstm.seq_projected(xp, states); // [N, T, H]
        self.out.forward3(h) // [N, T, out]
    }

    /// Stepwise decoding of `steps` steps. `first` `[N, in_width]` is the first input (zeros, or the last
    /// token of the previous bar); `truth` `[N, T, in_width]` the true previous inputs when known.
    /// Returns logits `[N, T, out]` and the chosen tokens per track `[N, T]`.
    ///
    /// Under autodiff it runs in two passes with the same result: the inputs a step is fed (a
    /// sample, or the truth) carry no gradient, so a first pass without gradient tracking chooses
    /// them, and a second runs the whole sequence on those inputs as in teacher forcing — one fused
    /// LSTM operation per layer instead of a per-step graph.
    #[allow(clippy::too_many_arguments)]
    pub fn stepwise(
        &self,
        cond: Tensor<B, 2>,
        first: Tensor<B, 2>,
        truth: Option<Tensor<B, 3>>,
        steps: usize,
        tracks: &[TrackSpec],
        noise: &StepNoise<B>,
        tables: &[Option<Tensor<B, 2>>],
        masks: Option<&[Tensor<B, 3>]>,
    ) -> (Tensor<B, 3>, Vec<Tensor<B, 2, Int>>) {
        // Read once: this runs in every training step (and per bar of a hierarchical model).
        static SINGLE_PASS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let single_pass =
            *SINGLE_PASS.get_or_init(|| std::env::var_os("MUSICVAE_STEPWISE").is_some());
        let host = lstm_op::supported::<B>();
        if !B::ad_enabled(&cond.device()) || single_pass {
            let (logits, tokens, _) = if host && !single_pass {
                self.stepwise_host(cond, first, truth, steps, tracks, noise)
            } else {
                self.stepwise_once(cond, first, truth, steps, tracks, noise, tables)
            };
            return (logits, tokens);
        }
        let (c, f, t) = (
            cond.clone().detach(),
            first.detach(),
            truth.map(|t| t.detach()),
        );
        let (_, tokens, fed) = if host {
            self.stepwise_host(c, f, t, steps, tracks, noise)
        } else {
            let frozen = self.clone().no_grad();
            frozen.stepwise_once(c, f, t, steps, tracks, noise, tables)
        }; // fed: [N, T, in_width]

        // With input dropout, the inputs were chosen by the model without masks; only this pass,
        // the one with gradients, reads its inputs through them.
        (self.teacher_forced_dropped(fed, cond, masks), tokens) // [N, T, out]
    }

    /// [`stepwise_once`](Self::stepwise_once) on host memory ([`stepwise_kernel`]): the CPU
    /// backend's path, with no gradient (the first pass under autodiff, or inference).
    fn stepwise_host(
        &self,
        cond: Tensor<B, 2>,
        first: Tensor<B, 2>,
        truth: Option<Tensor<B, 3>>,
        steps: usize,
        tracks: &[TrackSpec],
        noise: &StepNoise<B>,
    ) -> (Tensor<B, 3>, Vec<Tensor<B, 2, Int>>, Tensor<B, 3>) {
        let device = cond.device();
        let [n, in_width] = first.dims();
        let init = host(tanh(self.init.forward2(cond.clone()))); // [N, Σ 2H]
        let cond_proj = host(self.cond_projection(cond)); // [N, 4H0]
        let token_w = host(self.token_weights()); // [in_width, 4H0]
        let weights: Vec<(Vec<f32>, Vec<f32>, Vec<f32>)> = self
            .lstm
            .layers
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let (w_ih, bias) = if i == 0 {
                    (Vec::new(), Vec::new())
                } else {
                    (host(l.w_ih.val()), host(l.bias.val()))
                };
                (w_ih, bias, host(l.w_hh.val())) // [d_in, 4H], [4H], [H, 4H]
            })
            .collect();
        let (out_w, out_b) = (host(self.out.weight.val()), host(self.out.bias.val()));
        let first = host(first); // [N, in_width]
        let truth = truth.map(host); // [N, T, in_width]
        let mask = noise.feed_sample.clone().map(host); // [N, T]
        let gumbel: Option<Vec<Vec<f32>>> = noise
            .gumbel
            .as_ref()
            .map(|gs| gs.iter().map(|g| host(g.clone())).collect()); // per track [N, T, depth]
        let tables: Vec<Option<Vec<f32>>> = tracks
            .iter()
            .map(|t| match t.input {
                TrackInput::OneHot(_) => None,
                TrackInput::DrumRoll => Some(t.input.table(t.depth)), // [depth, width]
            })
            .collect();
        let job = stepwise_kernel::Decode {
            n,
            steps,
            in_width,
            cond_proj: &cond_proj,
            token_w: &token_w,
            layers: self
                .lstm
                .layers
                .iter()
                .zip(&weights)
                .map(|(l, (w_ih, bias, w_hh))| stepwise_kernel::Layer {
                    w_ih,
                    bias,
                    w_hh,
                    hidden: l.hidden,
                })
                .collect(),
            init: &init,
            out_w: &out_w,
            out_b: &out_b,
            first: &first,
            truth: truth.as_deref(),
            mask: mask.as_deref(),
            tracks: tracks
                .iter()
                .enumerate()
                .map(|(k, t)| stepwise_kernel::Track {
                    depth: t.depth,
                    width: t.input.width(),
                    table: tables[k].as_deref(),
                    gumbel: gumbel.as_ref().map(|g| g[k].as_slice()),
                })
                .collect(),
            temperature: noise.temperature as f32,
            forget_bias: self.lstm.layers[0].forget_bias as f32,
        };
        let out = stepwise_kernel::decode(&job);
        let logits = Tensor::from_data(
            TensorData::new(out.logits, [n, steps, out_b.len()]),
            &device,
        ); // [N, T, out]
        let tokens = out
            .tokens
            .into_iter()
            .map(|t| Tensor::from_data(TensorData::new(t, [n, steps]), &device)) // [N, T]
            .collect();
        let fed = Tensor::from_data(TensorData::new(out.fed, [n, steps, in_width]), &device); // [N, T, in_width]
        (logits, tokens, fed)
    }

    /// One pass of [`stepwise`](Self::stepwise); also returns the input fed at every step
    /// `[N, T, in_width]`.
    #[allow(clippy::too_many_arguments)]
    fn stepwise_once(
        &self,
        cond: Tensor<B, 2>,
        first: Tensor<B, 2>,
        truth: Option<Tensor<B, 3>>,
        steps: usize,
        tracks: &[TrackSpec],
        noise: &StepNoise<B>,
        tables: &[Option<Tensor<B, 2>>],
    ) -> (Tensor<B, 3>, Vec<Tensor<B, 2, Int>>, Tensor<B, 3>) {
        let mut states = self.initial(cond.clone());
        let cp = self.cond_projection(cond); // [N, 4H]
        let wt = self.token_weights(); // [in_width, 4H]
        let truth_steps: Option<Vec<Tensor<B, 2>>> = truth.map(|t| {
            t.chunk(steps, 1)
                .into_iter()
                .map(|s| s.squeeze_dim(1))
                .collect()
        });
        let mask_steps: Option<Vec<Tensor<B, 2>>> =
            noise.feed_sample.clone().map(|m| m.chunk(steps, 1)); // T × [N, 1]
        let gumbel_steps: Option<Vec<Vec<Tensor<B, 2>>>> = noise.gumbel.clone().map(|gs| {
            gs.into_iter()
                .map(|g| {
                    g.chunk(steps, 1)
                        .into_iter()
                        .map(|s| s.squeeze_dim(1))
                        .collect()
                })
                .collect()
        });
        let mut input = first;
        let mut fed = Vec::with_capacity(steps);
        let mut all_logits = Vec::with_capacity(steps);
        let mut tokens: Vec<Vec<Tensor<B, 1, Int>>> = vec![Vec::with_capacity(steps); tracks.len()];
        for t in 0..steps {
            fed.push(input.clone());
            let xp = input.clone().matmul(wt.clone()) + cp.clone(); // [N, 4H]
            states = self.lstm.step(xp, states);
            let h = states
                .last()
                .map(|s| s.h.clone())
                .expect("at least one layer"); // [N, H]
            let logits = self.out.forward2(h); // [N, out]
                                               // Choose the next input from the (detached) logits of each track.
            let mut parts = Vec::with_capacity(tracks.len());
            let mut off = 0;
            for (k, tr) in tracks.iter().enumerate() {
                let lk = logits.clone().detach().narrow(1, off, tr.depth); // [N, depth]
                off += tr.depth;
                let scored = match (&gumbel_steps, noise.temperature > 0.0) {
                    (Some(g), true) => lk.div_scalar(noise.temperature) + g[k][t].clone(),
                    _ => lk,
                };
                let tok = scored.argmax(1).squeeze_dim::<1>(1); // [N]
                let enc = encode_tokens(tok.clone(), tr.depth, tables[k].as_ref()); // [N, width]
                parts.push(enc);
                tokens[k].push(tok);
            }
            let sampled = Tensor::cat(parts, 1); // [N, in_width]
            input = match (&truth_steps, &mask_steps) {
                (Some(tr), Some(m)) if t + 1 < steps => {
                    let m = m[t + 1].clone(); // [N, 1]
                    sampled * m.clone() + tr[t + 1].clone() * m.neg().add_scalar(1.0)
                }
                (Some(tr), None) if t + 1 < steps => tr[t + 1].clone(),
                _ => sampled,
            };
            all_logits.push(logits);
        }
        let logits = Tensor::stack(all_logits, 1); // [N, T, out]
        let tokens = tokens.into_iter().map(|v| Tensor::stack(v, 1)).collect(); // [N, T]
        (logits, tokens, Tensor::stack(fed, 1)) // [N, T, in_width]
    }
}

/// A tensor's values, row-major, on the host.
fn host<B: Backend, const D: usize>(x: Tensor<B, D>) -> Vec<f32> {
    lstm_op::host_values(x)
}

/// Encoding tables for tracks that are not plain one-hot (drum roll), on `device`.
pub fn input_tables<B: Backend>(
    tracks: &[TrackSpec],
    device: &B::Device,
) -> Vec<Option<Tensor<B, 2>>> {
    tracks
        .iter()
        .map(|t| match t.input {
            TrackInput::OneHot(_) => None,
            TrackInput::DrumRoll => Some(Tensor::from_data(
                TensorData::new(t.input.table(t.depth), [t.depth, t.input.width()]),
                device,
            )),
        })
        .collect()
}

/// Tokens `[N]` → their input encoding `[N, width]`: one-hot over `depth`, mapped through the
/// track's table (from [`input_tables`]) when its encoding is not one-hot.
pub fn encode_tokens<B: Backend>(
    tokens: Tensor<B, 1, Int>,
    depth: usize,
    table: Option<&Tensor<B, 2>>,
) -> Tensor<B, 2> {
    let oh = tokens.one_hot::<2>(depth).float(); // [N, depth]
    match table {
        Some(tab) => oh.matmul(tab.clone()), // [N, width]
        None => oh,
    }
}

/// Inputs shifted right by one step along time, a zero step first: `[B, T, W]` → `[B, T, W]`
/// (the decoder's input at step t is the token of step t − 1).
pub fn shift_right<B: Backend>(x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, t, w] = x.dims();
    Tensor::cat(
        vec![Tensor::zeros([b, 1, w], &x.device()), x.narrow(1, 0, t - 1)],
        1,
    ) // [B, T, W]
}

/// Split the last axis into consecutive parts of `sizes`: `[B, T, Σsizes]` → per part `[B, T, size]`.
pub fn split_tracks<B: Backend>(x: Tensor<B, 3>, sizes: &[usize]) -> Vec<Tensor<B, 3>> {
    let mut off = 0;
    sizes
        .iter()
        .map(|&s| {
            let p = x.clone().narrow(2, off, s);
            off += s;
            p
        })
        .collect()
}

/// The argmax token of each step: per track `[B, T, depth]` → `[B, T]`.
pub fn argmax_tokens<B: Backend>(logits: &[Tensor<B, 3>]) -> Vec<Tensor<B, 2, Int>> {
    logits
        .iter()
        .map(|l| l.clone().argmax(2).squeeze_dim::<2>(2))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use burn::backend::{Autodiff, NdArray};

    type B = Autodiff<NdArray<f32>>;

    /// A one-hot track of 7 classes and a drum track (512 tokens, 10-wide drum-roll input).
    fn one_hot_and_drum_roll() -> [TrackSpec; 2] {
        [
            TrackSpec {
                depth: 7,
                input: TrackInput::OneHot(7),
                enc_input: TrackInput::OneHot(7),
            },
            TrackSpec {
                depth: 512,
                input: TrackInput::DrumRoll,
                enc_input: TrackInput::DrumRoll,
            },
        ]
    }

    /// The host kernel (the CPU backend's stepwise path) decodes what the per-step tensor graph
    /// decodes: the same tokens and fed inputs, logits within rounding, for one-hot and drum-roll
    /// tracks, with and without truth, mask and Gumbel noise, over several layer and batch sizes.
    #[test]
    fn host_stepwise_matches_the_tensor_graph() {
        type C = NdArray<f32>;
        let dev = Default::default();
        let tracks = one_hot_and_drum_roll();
        let in_width: usize = tracks.iter().map(|t| t.input.width()).sum();
        let mut rng = Rng::new(5);
        for (case, (n, steps, sizes, temperature, with_truth, with_mask)) in [
            (1, 1, vec![3], 0.0, false, false),
            (5, 9, vec![12, 10], 1.0, true, true),
            (17, 6, vec![8, 16, 4], 0.5, true, false),
            (4, 11, vec![20], 0.0, false, false),
            (3, 7, vec![6, 6], 2.0, false, false),
        ]
        .into_iter()
        .enumerate()
        {
            let cond_w = 6;
            let out: usize = tracks.iter().map(|t| t.depth).sum();
            let core = CoreDecoder::<C>::new(
                in_width,
                cond_w,
                &sizes,
                out,
                1.0,
                &mut InitRng::new(case as u64 + 1),
                &dev,
            );
            let cond = Tensor::<C, 2>::from_data(
                TensorData::new(rng.normals(n * cond_w), [n, cond_w]),
                &dev,
            );
            let bits = |rng: &mut Rng, len: usize, p: f64| {
                (0..len)
                    .map(|_| if rng.uniform() < p { 1.0f32 } else { 0.0 })
                    .collect::<Vec<_>>()
            };
            let truth = with_truth.then(|| {
                Tensor::<C, 3>::from_data(
                    TensorData::new(
                        bits(&mut rng, n * steps * in_width, 0.2),
                        [n, steps, in_width],
                    ),
                    &dev,
                )
            });
            let mask = with_mask.then(|| {
                Tensor::<C, 2>::from_data(
                    TensorData::new(bits(&mut rng, n * steps, 0.5), [n, steps]),
                    &dev,
                )
            });
            let noise = StepNoise::draw(&mut rng, &tracks, n, steps, temperature, mask, &dev);
            let tables = input_tables::<C>(&tracks, &dev);
            let first = Tensor::<C, 2>::from_data(
                TensorData::new(bits(&mut rng, n * in_width, 0.1), [n, in_width]),
                &dev,
            );
            let (l1, t1, f1) = core.stepwise_once(
                cond.clone(),
                first.clone(),
                truth.clone(),
                steps,
                &tracks,
                &noise,
                &tables,
            );
            let (l2, t2, f2) = core.stepwise_host(cond, first, truth, steps, &tracks, &noise);
            let ints = |t: Vec<Tensor<C, 2, Int>>| -> Vec<Vec<i64>> {
                t.into_iter()
                    .map(|t| t.into_data().convert::<i64>().to_vec().expect("ints"))
                    .collect()
            };
            assert_eq!(ints(t1), ints(t2), "case {case}: tokens");
            let floats = |t: Tensor<C, 3>| t.into_data().to_vec::<f32>().expect("f32");
            assert_eq!(floats(f1), floats(f2), "case {case}: fed inputs");
            let (a, b) = (floats(l1), floats(l2));
            assert_eq!(a.len(), n * steps * out);
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(worst < 1e-4, "case {case}: logits differ by {worst}");
        }
    }

    /// The two-pass stepwise decode under autodiff gives the logits, tokens and gradients of the
    /// single pass (one autodiff node per step) it replaces: scheduled sampling with a mask, at
    /// temperature 1, for a one-hot and a drum-roll track.
    #[test]
    fn two_pass_stepwise_matches_the_single_pass() {
        let dev = Default::default();
        let tracks = one_hot_and_drum_roll();
        let in_width: usize = tracks.iter().map(|t| t.input.width()).sum();
        let out: usize = tracks.iter().map(|t| t.depth).sum();
        let (n, steps, cond_w) = (5, 9, 6);
        let core = CoreDecoder::<B>::new(
            in_width,
            cond_w,
            &[12, 10],
            out,
            1.0,
            &mut InitRng::new(3),
            &dev,
        );
        let mut rng = Rng::new(11);
        let cond =
            Tensor::<B, 2>::from_data(TensorData::new(rng.normals(n * cond_w), [n, cond_w]), &dev)
                .require_grad();
        let truth = Tensor::<B, 3>::from_data(
            TensorData::new(
                (0..n * steps * in_width)
                    .map(|_| if rng.uniform() < 0.2 { 1.0f32 } else { 0.0 })
                    .collect::<Vec<_>>(),
                [n, steps, in_width],
            ),
            &dev,
        );
        let mask = Tensor::<B, 2>::from_data(
            TensorData::new(
                (0..n * steps)
                    .map(|_| if rng.uniform() < 0.5 { 1.0f32 } else { 0.0 })
                    .collect::<Vec<_>>(),
                [n, steps],
            ),
            &dev,
        );
        let noise = StepNoise::draw(&mut rng, &tracks, n, steps, 1.0, Some(mask), &dev);
        let tables = input_tables::<B>(&tracks, &dev);
        let first = Tensor::<B, 2>::zeros([n, in_width], &dev);
        let weights = Tensor::<B, 3>::from_data(
            TensorData::new(rng.normals(n * steps * out), [n, steps, out]),
            &dev,
        );
        let run = |two_pass: bool| {
            let args = (cond.clone(), first.clone(), Some(truth.clone()));
            let (logits, tokens) = if two_pass {
                core.stepwise(
                    args.0, args.1, args.2, steps, &tracks, &noise, &tables, None,
                )
            } else {
                let (l, t, _) =
                    core.stepwise_once(args.0, args.1, args.2, steps, &tracks, &noise, &tables);
                (l, t)
            };
            let loss = (logits.clone() * weights.clone()).sum();
            let grads = loss.backward();
            let g_cond = cond.grad(&grads).expect("grad of cond").into_data();
            let g_whh = core.lstm.layers[0]
                .w_hh
                .val()
                .grad(&grads)
                .expect("grad of W_hh")
                .into_data();
            let g_out = core
                .out
                .weight
                .val()
                .grad(&grads)
                .expect("grad")
                .into_data();
            let tokens: Vec<Vec<i64>> = tokens
                .into_iter()
                .map(|t| t.into_data().convert::<i64>().to_vec().expect("ints"))
                .collect();
            (logits.into_data(), tokens, [g_cond, g_whh, g_out])
        };
        let (l1, t1, g1) = run(false);
        let (l2, t2, g2) = run(true);
        assert_eq!(t1, t2, "the same tokens are fed back");
        let close = |a: &TensorData, b: &TensorData, what: &str| {
            let (a, b) = (
                a.to_vec::<f32>().expect("f32"),
                b.to_vec::<f32>().expect("f32"),
            );
            let scale = a.iter().map(|v| v.abs()).fold(1e-6f32, f32::max);
            let worst = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - y).abs())
                .fold(0f32, f32::max);
            assert!(worst <= 1e-4 * scale, "{what}: {worst} vs scale {scale}");
        };
        close(&l1, &l2, "logits");
        for (k, (a, b)) in g1.iter().zip(&g2).enumerate() {
            close(a, b, &format!("gradient {k}"));
        }
    }
}
