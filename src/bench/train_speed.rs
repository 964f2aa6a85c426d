//! Training throughput: warm-up steps, then timed optimisation steps (the same step as `train`)
//! at a fixed batch size, teacher-forced or fully sampled decoding. Sequences per second.

use crate::data::converter::{DataKind, Window};
use crate::data::representation::Vocab;
use crate::error::{Error, Result};
use crate::model::batch::make_batch;
use crate::model::dropout::InputDropout;
use crate::model::{Config, MusicVae};
use crate::rng::Rng;
use crate::train::step::{host_normals, optimisation_step, scheduled_mode};
use burn::tensor::backend::AutodiffBackend;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How the decoder is fed during the timed steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum DecoderMode {
    /// Teacher forcing (the whole sequence at once where the architecture allows).
    TeacherForced,
    /// Every input is the model's own temperature-1 sample (scheduled-sampling probability 1).
    Sampled,
}

/// One benchmark row.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainSpeed {
    pub config: String,
    pub mode: DecoderMode,
    pub batch: usize,
    pub warmup: usize,
    pub steps: usize,
    pub seconds: f64,
    pub seq_per_sec: f64,
    pub ms_per_step: f64,
    pub first_loss: f64,
    pub last_loss: f64,
    pub params: usize,
}

/// Random but valid windows for `kind` (melody: a mix of onsets, holds and note-offs).
pub fn random_windows(kind: DataKind, steps: usize, n: usize, seed: u64) -> Vec<Window> {
    let mut rng = Rng::new(seed);
    let tracks = kind.representation().tracks;
    (0..n)
        .map(|_| Window {
            tracks: tracks
                .iter()
                .map(|t| {
                    (0..steps)
                        .map(|_| {
                            let u = rng.uniform();
                            if t.vocab == Vocab::Melody {
                                if u < 0.5 {
                                    0
                                } else if u < 0.6 {
                                    1
                                } else {
                                    2 + rng.below(88) as u16
                                }
                            } else {
                                rng.below(t.depth()) as u16
                            }
                        })
                        .collect()
                })
                .collect(),
        })
        .collect()
}

/// Time `steps` optimisation steps after `warmup` untimed ones.
pub fn train_speed<B: AutodiffBackend>(
    config: &Config,
    mode: DecoderMode,
    windows: &[Window],
    warmup: usize,
    steps: usize,
    device: &B::Device,
) -> Result<TrainSpeed> {
    let (mc, tc) = (&config.model, &config.train);
    let bsz = tc.batch_size;
    if windows.len() < bsz {
        return Err(Error::Invalid(format!(
            "{} windows for a batch of {bsz}",
            windows.len()
        )));
    }
    let mut model = MusicVae::<B>::new(mc, tc.seed, device);
    use burn::module::Module;
    let params = model.num_params();
    let mut optim = crate::train::adam::init::<B>(tc);
    let specs = model.tracks.clone();
    let mut rng = Rng::new(tc.seed);
    let p = match mode {
        DecoderMode::TeacherForced => 0.0,
        DecoderMode::Sampled => 1.0,
    };
    let (mut first, mut last) = (f64::NAN, f64::NAN);
    let mut t0 = Instant::now();
    for i in 0..warmup + steps {
        if i == warmup {
            t0 = Instant::now();
        }
        let start = (i * bsz) % (windows.len() - bsz + 1);
        let refs: Vec<&Window> = windows[start..start + bsz].iter().collect();
        let batch = make_batch::<B>(mc.data.kind, &refs, device);
        let eps = host_normals::<B>(&mut rng, bsz, mc.z_size, device);
        let dmode = scheduled_mode(&mut rng, &batch, &specs, p, device);
        let keep = mc.dropout_keep_prob;
        let drop = InputDropout::draw(&mut rng, keep, &model, bsz);
        let step = i as u64;
        let (next, r) = optimisation_step(
            model,
            &mut optim,
            config,
            &batch,
            eps,
            dmode,
            drop.as_ref(),
            step,
        );
        model = next;
        if i == 0 {
            first = r.loss;
        }
        last = r.loss;
    }
    let seconds = t0.elapsed().as_secs_f64();
    Ok(TrainSpeed {
        config: mc.name.clone(),
        mode,
        batch: bsz,
        warmup,
        steps,
        seconds,
        seq_per_sec: (steps * bsz) as f64 / seconds.max(1e-9),
        ms_per_step: 1e3 * seconds / steps.max(1) as f64,
        first_loss: first,
        last_loss: last,
        params,
    })
}
