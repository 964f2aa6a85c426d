//! A fused LSTM of our own: one input matmul and one recurrent matmul into the four gates
//! (order i, f, g, o), a `step` API (one time step, state in → state out) and a `seq` API (the input
//! projection of the whole sequence hoisted out of the time loop). Stacked layers; a bidirectional
//! layer is a forward and a backward cell whose outputs are concatenated.
//!
//! TensorFlow's `LSTMBlockCell` (what Magenta uses) adds a constant forget bias of 1.0 to the forget
//! gate; `forget_bias` reproduces it (0.0 gives the textbook / PyTorch / burn `nn::Lstm` cell).

use super::init::InitRng;
use super::lstm_op;
use super::matmul_op;
use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{backend::Backend, Tensor};

/// State of one layer: cell and hidden, each `[batch, hidden]`.
#[derive(Debug, Clone)]
pub struct LstmState<B: Backend> {
    pub c: Tensor<B, 2>,
    pub h: Tensor<B, 2>,
}

impl<B: Backend> LstmState<B> {
    pub fn zeros(batch: usize, hidden: usize, device: &B::Device) -> Self {
        LstmState {
            c: Tensor::zeros([batch, hidden], device),
            h: Tensor::zeros([batch, hidden], device),
        }
    }
}

/// One fused LSTM layer.
#[derive(Module, Debug)]
pub struct LstmCell<B: Backend> {
    /// `[d_in, 4H]`, gate blocks i, f, g, o.
    pub w_ih: Param<Tensor<B, 2>>,
    /// `[H, 4H]`
    pub w_hh: Param<Tensor<B, 2>>,
    /// `[4H]`
    pub bias: Param<Tensor<B, 1>>,
    pub hidden: usize,
    pub forget_bias: f64,
}

impl<B: Backend> LstmCell<B> {
    pub fn new(
        d_in: usize,
        hidden: usize,
        forget_bias: f64,
        rng: &mut InitRng,
        device: &B::Device,
    ) -> Self {
        // TF's LSTMBlockCell initialises the concatenated [x, h] kernel with Glorot-uniform over
        // (d_in + H) × 4H; we keep the same limit for both blocks.
        let limit = (6.0 / (d_in + hidden + 4 * hidden) as f64).sqrt();
        LstmCell {
            w_ih: rng.uniform(d_in, 4 * hidden, limit, device), // [d_in, 4H]
            w_hh: rng.uniform(hidden, 4 * hidden, limit, device), // [H, 4H]
            bias: rng.zeros(4 * hidden, device),
            hidden,
            forget_bias,
        }
    }

    pub fn d_in(&self) -> usize {
        self.w_ih.dims()[0]
    }

    /// Input projection of a whole sequence, bias included: `[B, T, d_in]` → `[B, T, 4H]`.
    pub fn project(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        matmul_op::dense(x, self.w_ih.val(), Some(self.bias.val())) // [B, T, 4H]
    }

    /// Input projection of one step, bias included: `[B, d_in]` → `[B, 4H]`.
    pub fn project_step(&self, x: Tensor<B, 2>) -> Tensor<B, 2> {
        matmul_op::dense(x, self.w_ih.val(), Some(self.bias.val())) // [B, 4H]
    }

    /// Projection of a slice of the input features (rows `from..from+len` of `w_ih`), no bias:
    /// used for inputs that are constant over time (z, a conductor embedding).
    pub fn project_part(&self, x: Tensor<B, 2>, from: usize) -> Tensor<B, 2> {
        let len = x.dims()[1];
        matmul_op::matmul(x, self.w_ih.val().narrow(0, from, len)) // [B, 4H]
    }

    /// One step from a pre-projected input `xp = x W_ih + b` (`[B, 4H]`).
    pub fn step(&self, xp: Tensor<B, 2>, state: LstmState<B>) -> LstmState<B> {
        let h = self.hidden;
        let gates = xp + state.h.matmul(self.w_hh.val()); // [B, 4H]
        let i = sigmoid(gates.clone().narrow(1, 0, h));
        let f = sigmoid(gates.clone().narrow(1, h, h).add_scalar(self.forget_bias));
        let g = tanh(gates.clone().narrow(1, 2 * h, h));
        let o = sigmoid(gates.narrow(1, 3 * h, h));
        let c = f * state.c + i * g; // [B, H]
        let h = o * tanh(c.clone()); // [B, H]
        LstmState { c, h }
    }

    /// A whole sequence: `[B, T, d_in]` → outputs `[B, T, H]` and the final state. With `reverse`,
    /// the sequence is read from the last step to the first (outputs stay aligned with inputs).
    pub fn seq(
        &self,
        x: Tensor<B, 3>,
        state: LstmState<B>,
        reverse: bool,
    ) -> (Tensor<B, 3>, LstmState<B>) {
        self.seq_projected(self.project(x), state, reverse)
    }

    /// Like [`seq`](Self::seq) from the projected input `xp` `[B, T, 4H]`: one fused operation where
    /// the backend has it ([`lstm_op`]), the per-step graph otherwise.
    pub fn seq_projected(
        &self,
        xp: Tensor<B, 3>,
        state: LstmState<B>,
        reverse: bool,
    ) -> (Tensor<B, 3>, LstmState<B>) {
        let [_, t, _] = xp.dims();
        if t == 0 || !lstm_op::supported::<B>() {
            return self.seq_steps(xp, state, reverse);
        }
        let [b, _, _] = xp.dims();
        let packed = lstm_op::recurrence(
            xp,
            self.w_hh.val(),
            state.h,
            state.c,
            self.forget_bias,
            reverse,
        ); // [B·T + B, H]
        let outputs = packed
            .clone()
            .narrow(0, 0, b * t)
            .reshape([b, t, self.hidden]); // [B, T, H]
        let c = packed.narrow(0, b * t, b); // [B, H]
        let last = if reverse { 0 } else { t - 1 };
        let h = outputs.clone().narrow(1, last, 1).squeeze_dim::<2>(1); // [B, H]
        (outputs, LstmState { c, h })
    }

    /// The per-step graph of [`seq_projected`](Self::seq_projected): one autodiff node per operation
    /// and step. The reference the fused operation is tested against.
    pub fn seq_steps(
        &self,
        xp: Tensor<B, 3>,
        state: LstmState<B>,
        reverse: bool,
    ) -> (Tensor<B, 3>, LstmState<B>) {
        let [_, t, _] = xp.dims();
        if t == 0 {
            let [b, _, _] = xp.dims();
            return (Tensor::zeros([b, 0, self.hidden], &xp.device()), state);
        }
        let steps: Vec<Tensor<B, 2>> = xp
            .chunk(t, 1)
            .into_iter()
            .map(|s| s.squeeze_dim(1))
            .collect(); // T × [B, 4H]
        let mut outs: Vec<Option<Tensor<B, 2>>> = vec![None; t];
        let mut st = state;
        let order: Vec<usize> = if reverse {
            (0..t).rev().collect()
        } else {
            (0..t).collect()
        };
        let mut steps: Vec<Option<Tensor<B, 2>>> = steps.into_iter().map(Some).collect();
        for i in order {
            let xi = steps[i].take().expect("each step used once");
            st = self.step(xi, st);
            outs[i] = Some(st.h.clone());
        }
        let outs: Vec<Tensor<B, 2>> = outs
            .into_iter()
            .map(|o| o.expect("all steps run"))
            .collect();
        (Tensor::stack(outs, 1), st) // [B, T, H]
    }
}

/// Stacked unidirectional LSTM layers.
#[derive(Module, Debug)]
pub struct StackedLstm<B: Backend> {
    pub layers: Vec<LstmCell<B>>,
}

impl<B: Backend> StackedLstm<B> {
    pub fn new(
        d_in: usize,
        sizes: &[usize],
        forget_bias: f64,
        rng: &mut InitRng,
        device: &B::Device,
    ) -> Self {
        let mut layers = Vec::new();
        let mut d = d_in;
        for &h in sizes {
            layers.push(LstmCell::new(d, h, forget_bias, rng, device));
            d = h;
        }
        StackedLstm { layers }
    }

    pub fn sizes(&self) -> Vec<usize> {
        self.layers.iter().map(|l| l.hidden).collect()
    }

    pub fn top_size(&self) -> usize {
        self.layers.last().map(|l| l.hidden).unwrap_or(0)
    }

    /// Total state width (Σ 2·H): the size of the dense layer that initialises the states.
    pub fn state_width(&self) -> usize {
        self.layers.iter().map(|l| 2 * l.hidden).sum()
    }

    /// Split a flat `[B, Σ 2H]` vector into per-layer states in TF's flatten order (c0, h0, c1, h1, …).
    pub fn split_state(&self, flat: Tensor<B, 2>) -> Vec<LstmState<B>> {
        let mut out = Vec::new();
        let mut off = 0;
        for l in &self.layers {
            let c = flat.clone().narrow(1, off, l.hidden);
            let h = flat.clone().narrow(1, off + l.hidden, l.hidden);
            off += 2 * l.hidden;
            out.push(LstmState { c, h });
        }
        out
    }

    /// One step of the whole stack; `xp0` is the first layer's projected input `[B, 4H0]`.
    pub fn step(&self, xp0: Tensor<B, 2>, states: Vec<LstmState<B>>) -> Vec<LstmState<B>> {
        let mut out = Vec::with_capacity(states.len());
        let mut xp = xp0;
        for (i, (layer, st)) in self.layers.iter().zip(states).enumerate() {
            let ns = layer.step(xp, st);
            if let Some(next) = self.layers.get(i + 1) {
                xp = next.project_step(ns.h.clone());
            } else {
                xp = ns.h.clone(); // unused
            }
            out.push(ns);
        }
        out
    }

    /// A whole sequence through the stack: `[B, T, d_in]` → top outputs `[B, T, H]`, final states.
    pub fn seq(
        &self,
        x: Tensor<B, 3>,
        states: Vec<LstmState<B>>,
    ) -> (Tensor<B, 3>, Vec<LstmState<B>>) {
        let mut h = x;
        let mut finals = Vec::new();
        for (layer, st) in self.layers.iter().zip(states) {
            let (o, f) = layer.seq(h, st, false);
            h = o;
            finals.push(f);
        }
        (h, finals)
    }

    /// Like [`seq`](Self::seq) but with the first layer's input already projected `[B, T, 4H0]`
    /// (lets callers add a time-constant projection once instead of concatenating it at every step).
    /// Layer by layer, each one fused operation where the backend has it.
    pub fn seq_projected(
        &self,
        xp0: Tensor<B, 3>,
        states: Vec<LstmState<B>>,
    ) -> (Tensor<B, 3>, Vec<LstmState<B>>) {
        let [_, t, _] = xp0.dims();
        if t == 0 || !lstm_op::supported::<B>() {
            return self.seq_projected_steps(xp0, states);
        }
        let mut xp = xp0; // [B, T, 4H] of the current layer
        let mut finals = Vec::with_capacity(states.len());
        let mut layers = self.layers.iter().zip(states).peekable();
        while let Some((layer, st)) = layers.next() {
            let (out, fin) = layer.seq_projected(xp, st, false); // [B, T, H]
            finals.push(fin);
            match layers.peek() {
                Some((next, _)) => xp = next.project(out), // [B, T, 4H']
                None => return (out, finals),
            }
        }
        unreachable!("a stack has at least one layer")
    }

    /// The per-step graph of [`seq_projected`](Self::seq_projected), step-major through the stack.
    pub fn seq_projected_steps(
        &self,
        xp0: Tensor<B, 3>,
        states: Vec<LstmState<B>>,
    ) -> (Tensor<B, 3>, Vec<LstmState<B>>) {
        let [_, t, _] = xp0.dims();
        let mut states = states;
        let mut outs = Vec::with_capacity(t);
        for xp in xp0.chunk(t, 1) {
            states = self.step(xp.squeeze_dim(1), states);
            outs.push(
                states
                    .last()
                    .map(|s| s.h.clone())
                    .expect("at least one layer"),
            );
        }
        (Tensor::stack(outs, 1), states) // [B, T, H]
    }
}

/// Stacked bidirectional LSTM: layer l+1 reads the concatenated forward ‖ backward outputs of layer l.
#[derive(Module, Debug)]
pub struct BiLstm<B: Backend> {
    pub fwd: Vec<LstmCell<B>>,
    pub bwd: Vec<LstmCell<B>>,
}

impl<B: Backend> BiLstm<B> {
    pub fn new(
        d_in: usize,
        sizes: &[usize],
        forget_bias: f64,
        rng: &mut InitRng,
        device: &B::Device,
    ) -> Self {
        let (mut fwd, mut bwd) = (Vec::new(), Vec::new());
        let mut d = d_in;
        for &h in sizes {
            fwd.push(LstmCell::new(d, h, forget_bias, rng, device));
            bwd.push(LstmCell::new(d, h, forget_bias, rng, device));
            d = 2 * h;
        }
        BiLstm { fwd, bwd }
    }

    /// `[B, T, d_in]` → the final h of the last layer's forward ‖ backward cell `[B, 2H]` (the
    /// summary the encoder reads; the last layer's outputs are not assembled).
    pub fn summary(&self, x: Tensor<B, 3>) -> Tensor<B, 2> {
        self.summary_dropped(x, None)
    }

    /// [`summary`](Self::summary) with input dropout while training: `masks` holds, per layer,
    /// the (forward, backward) cells' input masks `[B, T, d_in]` ([`super::dropout`]).
    pub fn summary_dropped(
        &self,
        x: Tensor<B, 3>,
        masks: Option<&[[Tensor<B, 3>; 2]]>,
    ) -> Tensor<B, 2> {
        let [b, _, _] = x.dims();
        let device = x.device();
        let mut h = x;
        let mut last = None;
        let layers = self.fwd.len();
        for (i, (f, r)) in self.fwd.iter().zip(&self.bwd).enumerate() {
            let (xf, xb) = match masks.and_then(|m| m.get(i)) {
                Some([mf, mb]) => (h.clone() * mf.clone(), h.clone() * mb.clone()), // [B, T, d_in]
                None => (h.clone(), h.clone()),
            };
            let (of, sf) = f.seq(xf, LstmState::zeros(b, f.hidden, &device), false);
            let (ob, sb) = r.seq(xb, LstmState::zeros(b, r.hidden, &device), true);
            if i + 1 < layers {
                h = Tensor::cat(vec![of, ob], 2); // [B, T, 2H]: the next layer's input
            }
            last = Some(Tensor::cat(vec![sf.h, sb.h], 1)); // [B, 2H]
        }
        last.unwrap_or_else(|| Tensor::zeros([b, 0], &device))
    }

    pub fn summary_size(&self) -> usize {
        self.fwd.last().map(|l| 2 * l.hidden).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::NdArray;
    use burn::tensor::TensorData;

    type B = NdArray<f32>;

    fn t2(v: Vec<f32>, r: usize, c: usize) -> Tensor<B, 2> {
        Tensor::from_data(TensorData::new(v, [r, c]), &Default::default())
    }

    #[test]
    fn step_matches_hand_computation() {
        // d_in = 1, H = 1: gates = x*w_ih + h*w_hh + b, order i, f, g, o.
        let dev = Default::default();
        let cell = LstmCell::<B> {
            w_ih: Param::from_tensor(t2(vec![0.5, -0.3, 0.8, 0.1], 1, 4)),
            w_hh: Param::from_tensor(t2(vec![0.2, 0.4, -0.6, 0.7], 1, 4)),
            bias: Param::from_tensor(Tensor::from_data(
                TensorData::new(vec![0.1f32, 0.0, -0.1, 0.2], [4]),
                &dev,
            )),
            hidden: 1,
            forget_bias: 1.0,
        };
        let x = 2.0f64;
        let (h0, c0) = (0.5f64, -0.25f64);
        let sig = |v: f64| 1.0 / (1.0 + (-v).exp());
        let gi = sig(x * 0.5 + h0 * 0.2 + 0.1);
        let gf = sig(x * -0.3 + h0 * 0.4 + 0.0 + 1.0);
        let gg = (x * 0.8 + h0 * -0.6 - 0.1).tanh();
        let go = sig(x * 0.1 + h0 * 0.7 + 0.2);
        let c = gf * c0 + gi * gg;
        let h = go * c.tanh();
        let xp = cell.project_step(t2(vec![x as f32], 1, 1));
        let st = cell.step(
            xp,
            LstmState {
                c: t2(vec![c0 as f32], 1, 1),
                h: t2(vec![h0 as f32], 1, 1),
            },
        );
        let hc: Vec<f32> = st.h.into_data().to_vec().unwrap();
        let cc: Vec<f32> = st.c.into_data().to_vec().unwrap();
        assert!((hc[0] as f64 - h).abs() < 1e-6, "{} vs {h}", hc[0]);
        assert!((cc[0] as f64 - c).abs() < 1e-6, "{} vs {c}", cc[0]);
    }

    #[test]
    fn matches_burn_nn_lstm_with_copied_weights() {
        use burn::nn::{LstmConfig, LstmState as BurnState};
        let dev = Default::default();
        let (d_in, hid, b, t) = (3usize, 4usize, 2usize, 5usize);
        let reference = LstmConfig::new(d_in, hid, true).init::<B>(&dev);
        // Copy burn's per-gate weights into our fused matrices (gate order i, f, g, o).
        let gates = [
            &reference.input_gate,
            &reference.forget_gate,
            &reference.cell_gate,
            &reference.output_gate,
        ];
        let side_by_side = |pick: fn(&burn::nn::GateController<B>) -> Tensor<B, 2>| {
            Tensor::cat(gates.iter().map(|g| pick(g)).collect(), 1)
        };
        let w_ih = side_by_side(|g| g.input_transform.weight.val()); // [d_in, 4H]
        let w_hh = side_by_side(|g| g.hidden_transform.weight.val()); // [H, 4H]
        let bias = Tensor::cat(
            gates
                .iter()
                .map(|g| {
                    g.input_transform.bias.as_ref().expect("bias").val()
                        + g.hidden_transform.bias.as_ref().expect("bias").val()
                })
                .collect(),
            0,
        ); // [4H]
        let ours = LstmCell::<B> {
            w_ih: Param::from_tensor(w_ih),
            w_hh: Param::from_tensor(w_hh),
            bias: Param::from_tensor(bias),
            hidden: hid,
            forget_bias: 0.0,
        };
        let mut rng = InitRng::new(3);
        let x = rng
            .normal::<B>(b * t, d_in, 1.0, &dev)
            .val()
            .reshape([b, t, d_in]);
        let (ref_out, ref_state) = reference.forward(
            x.clone(),
            Some(BurnState::new(
                Tensor::zeros([b, hid], &dev),
                Tensor::zeros([b, hid], &dev),
            )),
        );
        let (out, st) = ours.seq(x, LstmState::zeros(b, hid, &dev), false);
        let a: Vec<f32> = out.into_data().to_vec().unwrap();
        let r: Vec<f32> = ref_out.into_data().to_vec().unwrap();
        let max = a
            .iter()
            .zip(&r)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-5, "max diff {max}");
        let c1: Vec<f32> = st.c.into_data().to_vec().unwrap();
        let c2: Vec<f32> = ref_state.cell.into_data().to_vec().unwrap();
        let max = c1
            .iter()
            .zip(&c2)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(max < 1e-5, "cell max diff {max}");
    }

    #[test]
    fn reverse_reads_backwards() {
        let dev = Default::default();
        let mut rng = InitRng::new(1);
        let cell = LstmCell::<B>::new(2, 3, 1.0, &mut rng, &dev);
        let x = rng.normal::<B>(4, 2, 1.0, &dev).val().reshape([1, 4, 2]);
        let flipped = Tensor::cat(x.clone().chunk(4, 1).into_iter().rev().collect(), 1);
        let (o1, s1) = cell.seq(x, LstmState::zeros(1, 3, &dev), true);
        let (o2, s2) = cell.seq(flipped, LstmState::zeros(1, 3, &dev), false);
        let a: Vec<f32> = s1.h.into_data().to_vec().unwrap();
        let b: Vec<f32> = s2.h.into_data().to_vec().unwrap();
        assert_eq!(a, b);
        // Output at step 0 of the reversed run = last output of the flipped forward run.
        let a0: Vec<f32> = o1.narrow(1, 0, 1).into_data().to_vec().unwrap();
        let b3: Vec<f32> = o2.narrow(1, 3, 1).into_data().to_vec().unwrap();
        assert_eq!(a0, b3);
    }

    /// Gradients of every parameter and input through the fused operation and through the
    /// per-step graph, for one loss that reads all outputs and the final state.
    fn grads_both_ways(
        b: usize,
        t: usize,
        d_in: usize,
        hid: usize,
        reverse: bool,
        seed: u64,
    ) -> Vec<(String, Vec<f32>, Vec<f32>)> {
        use burn::backend::Autodiff;
        type A = Autodiff<B>;
        let dev = Default::default();
        let mut rng = InitRng::new(seed);
        let cell = LstmCell::<A>::new(d_in, hid, 1.0, &mut rng, &dev);
        // Non-zero bias so every gate path is exercised.
        let cell = LstmCell {
            bias: Param::from_tensor(Tensor::from_inner(
                rng.normal::<B>(1, 4 * hid, 0.3, &dev)
                    .val()
                    .reshape([4 * hid]),
            )),
            ..cell
        };
        let x = rng
            .normal::<B>(b * t, d_in, 1.0, &dev)
            .val()
            .reshape([b, t, d_in]);
        let h0 = rng.normal::<B>(b, hid, 0.5, &dev).val();
        let c0 = rng.normal::<B>(b, hid, 0.5, &dev).val();
        let w_out = rng
            .normal::<B>(b * t, hid, 1.0, &dev)
            .val()
            .reshape([b, t, hid]);
        let w_c = rng.normal::<B>(b, hid, 1.0, &dev).val();
        let w_h = rng.normal::<B>(b, hid, 1.0, &dev).val();
        let run = |fused: bool| {
            let x = Tensor::<A, 3>::from_inner(x.clone()).require_grad();
            let h0 = Tensor::<A, 2>::from_inner(h0.clone()).require_grad();
            let c0 = Tensor::<A, 2>::from_inner(c0.clone()).require_grad();
            let xp = cell.project(x.clone());
            let st = LstmState {
                c: c0.clone(),
                h: h0.clone(),
            };
            let (out, fin) = if fused {
                assert!(lstm_op::supported::<A>());
                cell.seq_projected(xp, st, reverse)
            } else {
                cell.seq_steps(xp, st, reverse)
            };
            let loss = (out * Tensor::from_inner(w_out.clone())).sum()
                + (fin.c * Tensor::from_inner(w_c.clone())).sum()
                + (fin.h * Tensor::from_inner(w_h.clone())).sum();
            let grads = loss.backward();
            let v = |g: Option<Tensor<B, 2>>| -> Vec<f32> {
                g.expect("gradient").into_data().to_vec().expect("f32")
            };
            vec![
                (
                    "x",
                    x.grad(&grads)
                        .expect("x grad")
                        .into_data()
                        .to_vec()
                        .expect("f32"),
                ),
                ("h0", v(h0.grad(&grads))),
                ("c0", v(c0.grad(&grads))),
                ("w_ih", v(cell.w_ih.val().grad(&grads))),
                ("w_hh", v(cell.w_hh.val().grad(&grads))),
                (
                    "bias",
                    cell.bias
                        .val()
                        .grad(&grads)
                        .expect("bias grad")
                        .into_data()
                        .to_vec()
                        .expect("f32"),
                ),
            ]
        };
        run(true)
            .into_iter()
            .zip(run(false))
            .map(|((name, a), (_, b))| (name.to_string(), a, b))
            .collect()
    }

    #[test]
    fn fused_gradients_match_the_per_step_graph() {
        // Random sizes in batch 1–17, T 1–40, hidden 1–64, both directions, plus the extremes.
        let mut cases = vec![
            (1, 1, 1, 1, false),
            (17, 40, 5, 64, true),
            (17, 40, 64, 64, false),
        ];
        let mut x: u64 = 12345;
        let mut next = |n: u64| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((x >> 33) % n) as usize + 1
        };
        for k in 0..6 {
            cases.push((next(17), next(40), next(20), next(64), k % 2 == 1));
        }
        for (seed, &(b, t, d_in, hid, rev)) in cases.iter().enumerate() {
            for (name, fused, steps) in grads_both_ways(b, t, d_in, hid, rev, seed as u64) {
                let scale = steps.iter().fold(1e-3f32, |m, v| m.max(v.abs()));
                let max = fused
                    .iter()
                    .zip(&steps)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0f32, f32::max);
                assert!(
                    max <= 1e-4 * scale,
                    "B={b} T={t} d_in={d_in} H={hid} reverse={rev}: {name} differs by {max} (scale {scale})"
                );
            }
        }
    }

    #[test]
    fn fused_stack_matches_the_per_step_stack() {
        let dev = Default::default();
        let mut rng = InitRng::new(9);
        let stack = StackedLstm::<B>::new(6, &[8, 5], 1.0, &mut rng, &dev);
        let (b, t) = (3, 11);
        let xp = rng
            .normal::<B>(b * t, 32, 1.0, &dev)
            .val()
            .reshape([b, t, 32]);
        let states = || stack.split_state(rng_state(b, 26));
        let (o1, s1) = stack.seq_projected(xp.clone(), states());
        let (o2, s2) = stack.seq_projected_steps(xp, states());
        let d = |a: Tensor<B, 3>, b: Tensor<B, 3>| -> f32 { (a - b).abs().max().into_scalar() };
        assert!(d(o1, o2) < 1e-5);
        for (a, b) in s1.into_iter().zip(s2) {
            assert!(d(a.c.unsqueeze(), b.c.unsqueeze()) < 1e-5);
            assert!(d(a.h.unsqueeze(), b.h.unsqueeze()) < 1e-5);
        }
    }

    fn rng_state(b: usize, w: usize) -> Tensor<B, 2> {
        InitRng::new(4)
            .normal::<B>(b, w, 0.5, &Default::default())
            .val()
    }
}
