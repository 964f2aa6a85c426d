//! `musicvae bench`: training throughput, interpolation latency, prepare throughput, and the
//! agreement case for the PyTorch reference. Each prints a table row and can append JSON lines.

use super::backend::{check, dispatch, DeviceKind, OnBackend};
use super::config_arg::{data_config, data_config_help, PresetArg};
use anyhow::{bail, Context, Result};
use burn::tensor::backend::{AutodiffBackend, Backend};
use clap::{Args, Subcommand};
use musicvae::bench::agreement::write_agreement_case;
use musicvae::bench::npy::read_u16_2d;
use musicvae::bench::{random_windows, train_speed, DecoderMode};
use musicvae::data::converter::Window;
use musicvae::data::prepare::{prepare_dir, SplitConfig};
use musicvae::generate::{path, pick_window, Interpolation, Vae};
use musicvae::model::Config;
use musicvae::model_dir::{resolve_model, DEFAULT_MODEL};
use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub what: BenchCommand,
    /// Append one JSON line per result to this file.
    #[arg(long, global = true)]
    pub json: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Training steps per second (warm-up, then timed steps) for a preset.
    Train(TrainBench),
    /// Wall time of `interpolate` (model load included) for a model.
    Interpolate(InterpolateBench),
    /// Files per second of `prepare` over a folder.
    Prepare(PrepareBench),
    /// Write a model's weights, a batch, ε and our loss for the PyTorch agreement check.
    Agreement(AgreementBench),
    /// GFLOP/s of the CPU LSTM recurrence (forward + backward) and of a plain sgemm on the same threads.
    Kernels(KernelBench),
}

#[derive(Args, Debug)]
pub struct KernelBench {
    /// Batch of the LSTM recurrence.
    #[arg(long, default_value_t = 64)]
    pub batch: usize,
    /// Steps of the LSTM recurrence.
    #[arg(long, default_value_t = 32)]
    pub steps: usize,
    /// Units of the LSTM recurrence (repeat the flag for several rows).
    #[arg(long, default_values_t = [256, 512])]
    pub hidden: Vec<usize>,
    /// sgemm sizes m,k,n.
    #[arg(long, default_value = "512,602,2048")]
    pub sgemm: String,
    /// Read bandwidth: sum a buffer of this many MiB on all threads, again and again (repeat the
    /// flag for several rows; 256 MiB is what hierdec-mel_16bar's encoder reads per step).
    #[arg(long = "read-mib", default_values_t = [256])]
    pub read_mib: Vec<usize>,
    /// Timed repetitions (median reported).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
}

#[derive(Args, Debug)]
pub struct TrainBench {
    /// Preset (Magenta's configs.py numbers).
    #[arg(long, short, value_enum)]
    pub config: PresetArg,
    #[arg(long, value_enum, default_value_t = DecoderMode::TeacherForced)]
    pub mode: DecoderMode,
    #[arg(long, default_value_t = 512)]
    pub batch_size: usize,
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    #[arg(long, default_value_t = 10)]
    pub steps: usize,
    /// Token windows from a .npy file ([N, T] uint16, e.g. from `prepare --npy`); default: random tokens.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Override config fields (as for `train --set`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
}

#[derive(Args, Debug)]
pub struct InterpolateBench {
    pub a: PathBuf,
    pub b: PathBuf,
    /// Model folder or name under models/.
    #[arg(long, short = 'm', conflicts_with = "config")]
    pub model: Option<PathBuf>,
    /// Instead of a trained model: a freshly initialised model of this preset, saved to a
    /// temporary folder and loaded from there (latency does not depend on the weights).
    #[arg(long, short = 'c', value_enum)]
    pub config: Option<PresetArg>,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    #[arg(long, short = 'n', default_value_t = 5)]
    pub steps: usize,
    /// Timed repetitions (each loads the model again).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
}

#[derive(Args, Debug)]
pub struct PrepareBench {
    pub dir: PathBuf,
    #[arg(long, short, default_value = "cat-mel_2bar_small", help = data_config_help())]
    pub config: String,
}

#[derive(Args, Debug)]
pub struct AgreementBench {
    /// Preset (Magenta's configs.py numbers).
    #[arg(long, short, value_enum)]
    pub config: PresetArg,
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Global step whose β is used.
    #[arg(long, default_value_t = 1000)]
    pub step: u64,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Output folder.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

fn append_json(path: &Option<PathBuf>, v: &impl serde::Serialize) -> Result<()> {
    if let Some(p) = path {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
            .with_context(|| format!("opening {}", p.display()))?;
        writeln!(f, "{}", serde_json::to_string(v)?)
            .with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

fn config_with(preset: PresetArg, set: &[String], batch: Option<usize>) -> Result<Config> {
    let mut c = preset.config();
    c.apply_overrides(set)?;
    if let Some(b) = batch {
        c.train.batch_size = b;
    }
    c.validate()?;
    Ok(c)
}

fn windows_for(c: &Config, data: &Option<PathBuf>, n: usize) -> Result<Vec<Window>> {
    let steps = c.model.data.steps();
    let tracks = c.model.data.kind.track_depths().len();
    match data {
        None => Ok(random_windows(c.model.data.kind, steps, n, 7)),
        Some(p) => {
            let ([rows, cols], v) = read_u16_2d(p)?;
            if cols != steps * tracks {
                bail!(
                    "{}: rows of {cols} tokens, but {} needs {} ({} track(s) × {steps} steps)",
                    p.display(),
                    c.model.name,
                    steps * tracks,
                    tracks
                );
            }
            if rows == 0 {
                bail!("{}: no windows", p.display());
            }
            // Repeat the file's windows if it holds fewer than needed.
            Ok((0..n.max(rows))
                .map(|i| {
                    let r = &v[(i % rows) * cols..(i % rows + 1) * cols];
                    Window {
                        tracks: r.chunks(steps).map(|t| t.to_vec()).collect(),
                    }
                })
                .collect())
        }
    }
}

struct TrainJob(TrainBench, Option<PathBuf>);

impl TrainJob {
    fn go<B: AutodiffBackend>(self, device: &B::Device) -> Result<()> {
        let (a, json) = (self.0, self.1);
        let c = config_with(a.config, &a.set, Some(a.batch_size))?;
        let windows = windows_for(&c, &a.data, a.batch_size * 4)?;
        let r = train_speed::<B>(&c, a.mode, &windows, a.warmup, a.steps, device)?;
        println!(
            "train {:<22} {:<15} batch {:>4}: {:>9.1} seq/s, {:>9.1} ms/step, loss {:.2} → {:.2} ({} params, {:?})",
            r.config,
            format!("{:?}", r.mode),
            r.batch,
            r.seq_per_sec,
            r.ms_per_step,
            r.first_loss,
            r.last_loss,
            r.params,
            a.device
        );
        append_json(
            &json,
            &serde_json::json!({"bench": "train", "device": format!("{:?}", a.device), "result": r}),
        )
    }
}

pub fn run(a: BenchArgs) -> Result<()> {
    match a.what {
        BenchCommand::Train(t) => {
            check(t.device)?;
            let dev = t.device;
            let job = TrainJob(t, a.json);
            match dev {
                DeviceKind::Cpu => job.go::<super::backend::CpuTrain>(&Default::default()),
                #[cfg(any(feature = "cuda", feature = "cuda-lean"))]
                DeviceKind::Cuda => {
                    job.go::<super::backend::CudaTrain>(&super::backend::cuda_device())
                }
                #[cfg(not(any(feature = "cuda", feature = "cuda-lean")))]
                DeviceKind::Cuda => bail!("this musicvae was built without GPU support"),
            }
        }
        BenchCommand::Interpolate(i) => dispatch(DeviceKind::Cpu, InterpJob(i, a.json)),
        BenchCommand::Prepare(p) => {
            let cfg = data_config(&p.config)?;
            let t0 = Instant::now();
            let cache = prepare_dir(&p.dir, &cfg, SplitConfig::default(), &|_, _| {})?;
            let secs = t0.elapsed().as_secs_f64();
            let files = cache.meta.files.len() + cache.meta.skipped.len();
            let threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
            println!(
                "prepare {} ({}): {files} files, {} windows in {secs:.2} s = {:.0} files/s ({threads} threads)",
                p.dir.display(),
                p.config,
                cache.windows.len(),
                files as f64 / secs.max(1e-9)
            );
            append_json(
                &a.json,
                &serde_json::json!({"bench": "prepare", "dir": p.dir, "config": p.config, "files": files, "windows": cache.windows.len(), "seconds": secs, "threads": threads}),
            )
        }
        BenchCommand::Kernels(k) => {
            use musicvae::bench::kernel_speed::{lstm_speed, read_speed, sgemm_speed};
            let dims: Vec<usize> = k
                .sgemm
                .split(',')
                .map(|v| v.trim().parse::<usize>())
                .collect::<std::result::Result<_, _>>()
                .with_context(|| {
                    format!("--sgemm takes m,k,n (three numbers), not '{}'", k.sgemm)
                })?;
            let [m, kk, n] = dims[..] else {
                bail!("--sgemm takes m,k,n (three numbers), not '{}'", k.sgemm);
            };
            if m * kk * n == 0
                || k.batch == 0
                || k.steps == 0
                || k.hidden.contains(&0)
                || k.read_mib.contains(&0)
            {
                bail!("sizes must be positive");
            }
            let mut rows = vec![sgemm_speed(m, n, kk, k.repeat)];
            for &h in &k.hidden {
                rows.push(lstm_speed(
                    musicvae::model::lstm_kernel::SeqDims {
                        batch: k.batch,
                        steps: k.steps,
                        hidden: h,
                    },
                    k.repeat,
                ));
            }
            for &mib in &k.read_mib {
                rows.push(read_speed(mib, k.repeat));
            }
            for r in &rows {
                let rate = if r.gb_per_s > 0.0 {
                    format!("{:>7.1} GB/s   ", r.gb_per_s)
                } else {
                    format!("{:>7.1} GFLOP/s", r.gflops)
                };
                println!(
                    "kernel {:<32} {:>9.2} ms  {rate}  ({} threads)",
                    r.what,
                    r.seconds * 1e3,
                    r.threads
                );
                append_json(&a.json, &serde_json::json!({"bench": "kernel", "row": r}))?;
            }
            Ok(())
        }
        BenchCommand::Agreement(g) => {
            let c = config_with(g.config, &g.set, Some(g.batch_size))?;
            let windows = random_windows(c.model.data.kind, c.model.data.steps(), g.batch_size, 11);
            let ours = write_agreement_case::<super::backend::CpuBackend>(
                &c,
                &windows,
                g.step,
                &g.out,
                &Default::default(),
            )?;
            println!(
                "agreement case for {} (batch {}, step {}): loss {:.6}, r_loss {:.6}, KL {:.6} nats, kl_cost {:.6}; wrote {}",
                c.model.name,
                g.batch_size,
                g.step,
                ours.loss,
                ours.r_loss,
                ours.kl,
                ours.kl_cost,
                g.out.display()
            );
            Ok(())
        }
    }
}

struct InterpJob(InterpolateBench, Option<PathBuf>);

impl OnBackend for InterpJob {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let (a, json) = (self.0, self.1);
        let tmp = std::env::temp_dir().join(format!("musicvae-bench-{}", std::process::id()));
        let dir = match a.config {
            Some(preset) => {
                let c = config_with(preset, &a.set, None)?;
                let m = musicvae::model::MusicVae::<B>::new(&c.model, c.train.seed, device);
                musicvae::model::store::save_model(&tmp, &m, &c)?;
                tmp.clone()
            }
            None => resolve_model(a.model.as_deref(), DEFAULT_MODEL)?,
        };
        let mut times = Vec::new();
        // Seconds of each phase per run: load, MIDI reading, encode, decode.
        let mut phases: Vec<[f64; 4]> = Vec::new();
        let mut name = String::new();
        for _ in 0..a.repeat.max(1) {
            let t0 = Instant::now();
            let vae = Vae::<B>::load(&dir, device)?;
            let t_load = t0.elapsed().as_secs_f64();
            let cfg = &vae.config.model.data;
            let (pa, pb) = (pick_window(&a.a, cfg, None)?, pick_window(&a.b, cfg, None)?);
            let t_read = t0.elapsed().as_secs_f64();
            let lat = vae.encode(&[pa.window, pb.window])?;
            let t_enc = t0.elapsed().as_secs_f64();
            let zs = path(&lat[0].mu, &lat[1].mu, a.steps, Interpolation::Slerp);
            let out = vae.decode(&zs, 0.5, 0)?;
            std::hint::black_box(out);
            let total = t0.elapsed().as_secs_f64();
            times.push(total);
            phases.push([t_load, t_read - t_load, t_enc - t_read, total - t_enc]);
            name = vae.describe();
        }
        let order: Vec<usize> = {
            let mut o: Vec<usize> = (0..times.len()).collect();
            o.sort_by(|&i, &j| times[i].total_cmp(&times[j]));
            o
        };
        let median_phases = phases[order[order.len() / 2]];
        times.sort_by(f64::total_cmp);
        let median = times[times.len() / 2];
        println!(
            "interpolate {name}: {} phrases, median {:.3} s, min {:.3} s over {} runs (model load, MIDI reading, encode, decode; {} threads)",
            a.steps,
            median,
            times[0],
            times.len(),
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        );
        let [load, read, enc, dec] = median_phases;
        println!(
            "  median run: model load {load:.3} s, MIDI reading {read:.3} s, encode {enc:.3} s, decode {dec:.3} s"
        );
        if a.config.is_some() {
            let _ = std::fs::remove_dir_all(&tmp);
        }
        append_json(
            &json,
            &serde_json::json!({"bench": "interpolate", "model": name, "dir": dir, "steps": a.steps, "median_s": median, "min_s": times[0], "runs": times.len(),
                "median_phases_s": {"load": load, "read": read, "encode": enc, "decode": dec}}),
        )
    }
}
