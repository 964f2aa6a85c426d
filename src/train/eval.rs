//! Evaluation on held-out windows, on the inner (non-autodiff) backend: teacher-forced and sampled
//! (free-running, temperature-1 samples fed back, as Magenta's eval with sampling probability 1)
//! accuracy, overall and per bar position; reconstruction loss and KL.

use crate::data::converter::Window;
use crate::model::batch::make_batch;
use crate::model::config::ModelConfig;
use crate::model::loss::vae_loss;
use crate::model::noise::StepNoise;
use crate::model::vae::{DecodeMode, MusicVae};
use crate::music::drums::{DRUM_CLASSES, DRUM_CLASS_NAMES, DRUM_TOKENS};
use crate::rng::Rng;
use burn::tensor::{backend::Backend, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Held-out figures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EvalResult {
    pub windows: usize,
    pub teacher_forced_accuracy: f64,
    pub sampled_accuracy: f64,
    /// Accuracy per bar position (teacher-forced / sampled).
    pub tf_per_bar: Vec<f64>,
    pub sampled_per_bar: Vec<f64>,
    /// Per track (trio: melody, bass, drums).
    pub tf_per_track: Vec<f64>,
    pub sampled_per_track: Vec<f64>,
    pub r_loss: f64,
    pub kl_bits: f64,
    /// Fraction of target steps that are token 0 ("no event": a held melody note or rest, a drum
    /// step without hits): the accuracy of a model that always predicts it. Long notes make it
    /// high (0.75 on the 16-bar windows of the full corpus), so token accuracy is read against it.
    #[serde(default)]
    pub no_event_baseline: f64,
    /// Accuracy (z = μ) on the steps whose target is an event (a note-on, a note-off, a drum
    /// hit): what the "no event" baseline scores 0 on.
    #[serde(default)]
    pub tf_event_accuracy: f64,
    #[serde(default)]
    pub sampled_event_accuracy: f64,
    /// The same accuracies with z ~ q(z|x) (Magenta's evaluation), when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub posterior_sample: Option<PosteriorSampleResult>,
    /// Drum tracks (drum and trio models): hits of each drum class played back teacher-forced
    /// with z = μ — which drums the model misses and which it adds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drum_classes: Vec<DrumClassResult>,
}

/// One drum class's hits, teacher-forced with z = μ: a hit is a (step, class) pair.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct DrumClassResult {
    pub class: String,
    /// Hits of the class in the evaluated windows.
    pub hits: usize,
    /// Fraction of those hits the model plays (at the right step).
    pub recall: f64,
    /// Fraction of the class's predicted hits that are in the window.
    pub precision: f64,
}

/// Hit counts of one drum class: true positives, misses, additions.
#[derive(Debug, Clone, Copy, Default)]
struct HitCounts {
    played: usize,
    missed: usize,
    added: usize,
}

impl HitCounts {
    /// Count the hits of every class in drum tokens: `pred` against `target`.
    fn add(counts: &mut [HitCounts; DRUM_CLASSES], pred: i64, target: i64) {
        for (c, h) in counts.iter_mut().enumerate() {
            let (p, t) = ((pred >> c) & 1 == 1, (target >> c) & 1 == 1);
            h.played += usize::from(p && t);
            h.missed += usize::from(!p && t);
            h.added += usize::from(p && !t);
        }
    }

    fn result(&self, class: &str) -> DrumClassResult {
        let ratio = |a: usize, b: usize| match b {
            0 => 0.0,
            _ => a as f64 / b as f64,
        };
        DrumClassResult {
            class: class.to_string(),
            hits: self.played + self.missed,
            recall: ratio(self.played, self.played + self.missed),
            precision: ratio(self.played, self.played + self.added),
        }
    }
}

fn to_vec_i64<B: Backend>(t: Tensor<B, 2, burn::tensor::Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .to_vec::<i64>()
        .unwrap_or_default()
}

fn to_vec_f64<B: Backend>(t: Tensor<B, 1>) -> Vec<f64> {
    t.into_data()
        .convert::<f64>()
        .to_vec::<f64>()
        .unwrap_or_default()
}

/// Figures with z drawn from q(z|x) = N(μ, σ²) (Magenta's evaluation) instead of z = μ.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct PosteriorSampleResult {
    pub teacher_forced_accuracy: f64,
    pub sampled_accuracy: f64,
    pub tf_per_bar: Vec<f64>,
    pub sampled_per_bar: Vec<f64>,
}

/// Correct predictions per bar position and per track; target steps that are events (not
/// token 0) and the correct predictions among them.
struct Counts {
    tf_bar: Vec<usize>,
    sa_bar: Vec<usize>,
    tf_track: Vec<usize>,
    sa_track: Vec<usize>,
    events: usize,
    tf_events: usize,
    sa_events: usize,
    /// Teacher-forced hits per drum class (drum tracks only).
    drum_hits: [HitCounts; DRUM_CLASSES],
}

impl Counts {
    fn new(bars: usize, tracks: usize) -> Counts {
        Counts {
            tf_bar: vec![0; bars],
            sa_bar: vec![0; bars],
            tf_track: vec![0; tracks],
            sa_track: vec![0; tracks],
            events: 0,
            tf_events: 0,
            sa_events: 0,
            drum_hits: [HitCounts::default(); DRUM_CLASSES],
        }
    }
}

/// Decode `z` teacher-forced and free-running (temperature-1 samples fed back) and count the
/// steps where the argmax of the logits is the target. Returns the teacher-forced logits.
fn count_pass<B: Backend>(
    model: &MusicVae<B>,
    bt: &crate::model::batch::Batch<B>,
    z: Tensor<B, 2>,
    b: usize,
    rng: &mut Rng,
    counts: &mut Counts,
    device: &B::Device,
) -> Vec<Tensor<B, 3>> {
    let steps = model.steps;
    let tf = model.decode(
        z.clone(),
        DecodeMode::TeacherForced {
            inputs: bt.inputs.clone(),
        },
    );
    let sampled = model.decode(
        z,
        DecodeMode::Stepwise {
            inputs: None,
            noise: StepNoise::draw(rng, &model.tracks, b, steps, 1.0, None, device),
        },
    );
    for k in 0..model.tracks.len() {
        let target = to_vec_i64(bt.targets[k].clone()); // [b * steps]
                                                        // Accuracy = argmax of the logits vs the target, at every step.
        let tf_pred = to_vec_i64(tf.logits[k].clone().argmax(2).squeeze_dim::<2>(2));
        let sa_pred = to_vec_i64(sampled.logits[k].clone().argmax(2).squeeze_dim::<2>(2));
        if model.tracks[k].depth == DRUM_TOKENS {
            for (&p, &t) in tf_pred.iter().zip(&target) {
                HitCounts::add(&mut counts.drum_hits, p, t);
            }
        }
        for i in 0..b * steps {
            let bar = (i % steps) / 16;
            if tf_pred[i] == target[i] {
                counts.tf_bar[bar] += 1;
                counts.tf_track[k] += 1;
            }
            if sa_pred[i] == target[i] {
                counts.sa_bar[bar] += 1;
                counts.sa_track[k] += 1;
            }
            if target[i] != 0 {
                counts.events += 1;
                counts.tf_events += usize::from(tf_pred[i] == target[i]);
                counts.sa_events += usize::from(sa_pred[i] == target[i]);
            }
        }
    }
    tf.logits
}

/// Teacher-forced and sampled (free-running, temperature-1 samples fed back) accuracy of
/// `windows` decoded from the given codes `zs` (one per window), e.g. refined ones.
pub fn accuracy_at<B: Backend>(
    model: &MusicVae<B>,
    cfg: &ModelConfig,
    windows: &[&Window],
    zs: &[Vec<f32>],
    batch: usize,
    seed: u64,
    device: &B::Device,
) -> (f64, f64) {
    let nt = model.tracks.len();
    let mut rng = Rng::new(seed);
    let mut counts = Counts::new(cfg.data.slice_bars, nt);
    let mut n = 0;
    for (chunk, zc) in windows.chunks(batch.max(1)).zip(zs.chunks(batch.max(1))) {
        let b = chunk.len();
        let zd = zc.first().map(|z| z.len()).unwrap_or(0);
        let bt = make_batch::<B>(cfg.data.kind, chunk, device);
        let flat: Vec<f32> = zc.iter().flatten().copied().collect();
        let z = Tensor::from_data(TensorData::new(flat, [b, zd]), device); // [b, Z]
        count_pass(model, &bt, z, b, &mut rng, &mut counts, device);
        n += b;
    }
    let total = (n * cfg.data.steps() * nt).max(1) as f64;
    (
        counts.tf_track.iter().sum::<usize>() as f64 / total,
        counts.sa_track.iter().sum::<usize>() as f64 / total,
    )
}

/// Evaluate `model` on `windows` in batches of `batch` with z = μ (as for reconstruction).
/// `seed` fixes the sampling noise.
pub fn evaluate<B: Backend>(
    model: &MusicVae<B>,
    cfg: &ModelConfig,
    windows: &[&Window],
    batch: usize,
    seed: u64,
    device: &B::Device,
) -> EvalResult {
    evaluate_with(model, cfg, windows, batch, seed, false, device)
}

/// [`evaluate`], and with `posterior` also the accuracies with z ~ q(z|x) (one draw per window),
/// Magenta's evaluation, in [`EvalResult::posterior_sample`].
pub fn evaluate_with<B: Backend>(
    model: &MusicVae<B>,
    cfg: &ModelConfig,
    windows: &[&Window],
    batch: usize,
    seed: u64,
    posterior: bool,
    device: &B::Device,
) -> EvalResult {
    let steps = cfg.data.steps();
    let bars = cfg.data.slice_bars;
    let nt = model.tracks.len();
    let mut rng = Rng::new(seed);
    // A stream of its own for the posterior pass, so the z = μ figures do not depend on it.
    let mut q_rng = Rng::new(seed ^ 0x9E37_79B9_7F4A_7C15);
    let mut mu_counts = Counts::new(bars, nt);
    let mut q_counts = Counts::new(bars, nt);
    let (mut r_sum, mut kl_sum) = (0.0, 0.0);
    let mut n = 0usize;
    for chunk in windows.chunks(batch.max(1)) {
        let b = chunk.len();
        let bt = make_batch::<B>(cfg.data.kind, chunk, device);
        let (mu, sigma) = model.encode(bt.inputs.clone()); // [b, z] each
        let tf_logits = count_pass(model, &bt, mu.clone(), b, &mut rng, &mut mu_counts, device);
        let terms = vae_loss(
            &tf_logits,
            &bt.targets,
            mu.clone(),
            sigma.clone(),
            cfg.free_nats(),
            0.0,
        );
        r_sum += to_vec_f64(terms.r_loss).iter().sum::<f64>();
        kl_sum += to_vec_f64(terms.kl).iter().sum::<f64>();
        if posterior {
            let [_, zd] = mu.dims();
            let eps: Tensor<B, 2> =
                Tensor::from_data(TensorData::new(q_rng.normals(b * zd), [b, zd]), device); // [b, z]
            let z = mu + sigma * eps; // [b, z]
            count_pass(model, &bt, z, b, &mut q_rng, &mut q_counts, device);
        }
        n += b;
    }
    if n == 0 {
        return EvalResult::default();
    }
    let per_bar = (n * 16 * nt) as f64;
    let per_track = (n * steps) as f64;
    let total = |c: &[usize]| c.iter().sum::<usize>() as f64 / (per_track * nt as f64);
    let frac = |c: &[usize], d: f64| c.iter().map(|&x| x as f64 / d).collect::<Vec<f64>>();
    let of_events = |x: usize| x as f64 / mu_counts.events.max(1) as f64;
    EvalResult {
        windows: n,
        teacher_forced_accuracy: total(&mu_counts.tf_track),
        sampled_accuracy: total(&mu_counts.sa_track),
        tf_per_bar: frac(&mu_counts.tf_bar, per_bar),
        sampled_per_bar: frac(&mu_counts.sa_bar, per_bar),
        tf_per_track: frac(&mu_counts.tf_track, per_track),
        sampled_per_track: frac(&mu_counts.sa_track, per_track),
        r_loss: r_sum / n as f64,
        kl_bits: kl_sum / n as f64 / std::f64::consts::LN_2,
        no_event_baseline: 1.0 - mu_counts.events as f64 / (per_track * nt as f64),
        tf_event_accuracy: of_events(mu_counts.tf_events),
        sampled_event_accuracy: of_events(mu_counts.sa_events),
        posterior_sample: posterior.then(|| PosteriorSampleResult {
            teacher_forced_accuracy: total(&q_counts.tf_track),
            sampled_accuracy: total(&q_counts.sa_track),
            tf_per_bar: frac(&q_counts.tf_bar, per_bar),
            sampled_per_bar: frac(&q_counts.sa_bar, per_bar),
        }),
        drum_classes: match model.tracks.iter().any(|t| t.depth == DRUM_TOKENS) {
            true => mu_counts
                .drum_hits
                .iter()
                .zip(DRUM_CLASS_NAMES)
                .map(|(h, name)| h.result(name))
                .collect(),
            false => Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drum_hits_are_counted_per_class() {
        let mut c = [HitCounts::default(); DRUM_CLASSES];
        // Target: kick + closed hi-hat; played: kick + snare.
        HitCounts::add(&mut c, 0b011, 0b101);
        // Target: nothing; played: nothing. Target: ride; played: ride.
        HitCounts::add(&mut c, 0, 0);
        HitCounts::add(&mut c, 1 << 8, 1 << 8);
        let kick = c[0].result("kick");
        assert_eq!((kick.hits, kick.recall, kick.precision), (1, 1.0, 1.0));
        let snare = c[1].result("snare");
        assert_eq!((snare.hits, snare.recall, snare.precision), (0, 0.0, 0.0));
        assert_eq!(c[1].added, 1);
        let hat = c[2].result("closed hi-hat");
        assert_eq!((hat.hits, hat.recall, hat.precision), (1, 0.0, 0.0));
        assert_eq!(c[8].result("ride").recall, 1.0);
        assert!(c[3..8].iter().all(|h| h.played + h.missed + h.added == 0));
    }
}
