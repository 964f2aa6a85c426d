//! `musicvae grid A.mid B.mid C.mid D.mid --size N`: the 2-D latent grid of magenta.js's
//! interpolation demos. The four corners are the four inputs (A top left, B top right, C bottom
//! left, D bottom right); every cell is decoded from the bilinear (or spherical) mix of their codes.

use super::backend::{dispatch, ModelArgs, OnBackend, WindowArgs};
use super::guard::Files;
use super::output::{OutputArgs, PerformanceArgs, Written};
use anyhow::{bail, Context, Result};
use burn::tensor::backend::Backend;
use clap::Args;
use musicvae::generate::grid::grid_codes;
use musicvae::generate::output::{performed_sequence, write_png_columns, Panel, Performance};
use musicvae::generate::token_accuracy;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Smallest and largest grid side.
const SIZES: std::ops::RangeInclusive<usize> = 2..=11;

#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  musicvae grid midi_data/irish/oneills_0000.mid midi_data/chorale/bach_bwv104_6.mid \\\n      midi_data/german_folk/essen_altdeu10_0122.mid midi_data/chinese_folk/essen_han1_0051.mid --size 5 --png"
)]
pub struct GridArgs {
    /// The four corners: top left, top right, bottom left, bottom right (MIDI files).
    #[arg(value_name = "A.mid B.mid C.mid D.mid", num_args = 1..)]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Cells per side (2–11); the corners are the inputs' reconstructions.
    #[arg(long, short = 'n', default_value_t = 5)]
    pub size: usize,
    /// How codes are mixed: linear (bilinear, magenta.js) or slerp (spherical along rows, then
    /// columns).
    #[arg(long, value_enum, default_value_t = super::interpolate::Path::Linear)]
    pub path: super::interpolate::Path,
    /// Sampling temperature of the decoder (0 = argmax).
    #[arg(long, short = 't', default_value_t = 0.5)]
    pub temperature: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    #[command(flatten)]
    pub phrase: WindowArgs,
    /// Output: one MIDI file with the cells in reading order (a bar of rest between them); with
    /// --separate, a folder OUT (without .mid) holding r{row}_c{col}.mid per cell.
    #[arg(long, short = 'o', default_value = "grid.mid")]
    pub out: PathBuf,
    /// Write one MIDI file per cell instead of one file.
    #[arg(long)]
    pub separate: bool,
    #[command(flatten)]
    pub refine: super::refine_arg::RefineArgs,
    #[command(flatten)]
    pub perf: PerformanceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Paths of the per-cell files: OUT without its extension, as a folder.
fn cell_paths(out: &Path, n: usize) -> Vec<PathBuf> {
    let dir = out.with_extension("");
    (0..n * n)
        .map(|i| dir.join(format!("r{}_c{}.mid", i / n, i % n)))
        .collect()
}

impl OnBackend for GridArgs {
    fn run<B: Backend>(self, device: &B::Device) -> Result<()> {
        let a = self;
        let t0 = Instant::now();
        let vae = a.model.load_for::<B>(
            &a.files.iter().map(|p| p.as_path()).collect::<Vec<_>>(),
            device,
        )?;
        let cfg = &vae.config.model.data;
        let picked = a.phrase.pick_each(&a.files, cfg)?;
        for (name, p) in ["A", "B", "C", "D"].iter().zip(&picked) {
            println!("{name}: {}, {}", p.path.display(), p.describe());
        }
        let windows: Vec<_> = picked.iter().map(|p| p.window.clone()).collect();
        let (_, codes) = a.refine.encode(&vae, &windows)?;
        let how = a.path.interpolation();
        let n = a.size;
        let zs = grid_codes([&codes[0], &codes[1], &codes[2], &codes[3]], n, how);
        let cells = vae.decode(&zs, a.temperature, a.seed)?;
        println!(
            "decoded a {n}×{n} grid ({:?} mixing, temperature {}, seed {}) in {:.2} s (model load included)",
            how,
            a.temperature,
            a.seed,
            t0.elapsed().as_secs_f64()
        );
        let corner_idx = [0, n - 1, n * (n - 1), n * n - 1];
        let rec: Vec<String> = corner_idx
            .iter()
            .zip(&picked)
            .zip(["A", "B", "C", "D"])
            .map(|((&i, p), name)| {
                format!(
                    "{name} {:.0}%",
                    100.0 * token_accuracy(&cells[i], &p.window)
                )
            })
            .collect();
        println!("corners reconstruct their inputs on: {}", rec.join(", "));
        // Dynamics: each cell blends the corners' velocities with its bilinear weights.
        let ts: Vec<f64> = (0..n).map(|i| i as f64 / (n - 1) as f64).collect();
        let perf = Performance {
            qpm: a.perf.qpm(picked[0].qpm),
            velocity: a.perf.velocity,
            refs: (0..n * n)
                .map(|i| {
                    let (v, u) = (ts[i / n], ts[i % n]);
                    let w = [(1.0 - u) * (1.0 - v), u * (1.0 - v), (1.0 - u) * v, u * v];
                    w.iter()
                        .zip(&picked)
                        .map(|(w, p)| (*w, p.notes.as_slice()))
                        .collect()
                })
                .collect(),
        };
        let kind = vae.kind();
        let mut written = Written::default();
        let seq = performed_sequence(kind, &cells, 1, &perf);
        if a.separate {
            for (i, (cell, path)) in cells.iter().zip(cell_paths(&a.out, n)).enumerate() {
                let one = Performance {
                    qpm: perf.qpm,
                    velocity: perf.velocity,
                    refs: vec![perf.refs[i].clone()],
                };
                musicvae::music::write_midi_file(
                    &performed_sequence(kind, std::slice::from_ref(cell), 0, &one),
                    &path,
                )?;
                written.push(path);
            }
        } else {
            musicvae::music::write_midi_file(&seq, &a.out)?;
            written.push(a.out.clone());
        }
        let panels: Vec<Panel> = cells
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let (r, c) = (i / n, i % n);
                match corner_idx.iter().position(|&k| k == i) {
                    Some(k) => {
                        let name = ["A", "B", "C", "D"][k];
                        Panel::decoded(w.clone(), format!("{name}: {}", stem(&a.files[k]))).mark()
                    }
                    None => Panel::decoded(w.clone(), format!("r{r} c{c}")),
                }
            })
            .collect();
        let title = format!(
            "{n}x{n} latent grid ({}, {:?} mixing, T = {})",
            vae.config.model.name, how, a.temperature
        );
        if a.output.png {
            let png = a.out.with_extension("png");
            write_png_columns(kind, &panels, &title, Some(n), &png)
                .with_context(|| format!("writing the picture {}", png.display()))?;
            written.push(png);
        }
        let rest = OutputArgs {
            png: false,
            ..a.output.clone()
        };
        rest.finish(kind, &panels, &title, &a.out, &seq, &mut written)?;
        Ok(())
    }
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub fn run(a: GridArgs) -> Result<()> {
    if a.files.len() != 4 {
        bail!(
            "grid needs exactly 4 MIDI files, the corners (top left, top right, bottom left, bottom right); got {}",
            a.files.len()
        );
    }
    if !SIZES.contains(&a.size) {
        bail!(
            "--size must be between {} and {} cells per side, got {}",
            SIZES.start(),
            SIZES.end(),
            a.size
        );
    }
    a.output.check()?;
    a.perf.check()?;
    let dir = a
        .model
        .resolve_for(&a.files.iter().map(|p| p.as_path()).collect::<Vec<_>>())?;
    let mut files = Files::new().model(&dir);
    for (name, f) in ["input A", "input B", "input C", "input D"]
        .iter()
        .zip(&a.files)
    {
        files = files.input(name, f);
    }
    if a.separate {
        for p in cell_paths(&a.out, a.size) {
            files = files.output("--out", &p);
        }
    } else {
        files = files.output("--out", &a.out);
    }
    a.output.outputs(files, &a.out).check()?;
    let kind = a.model.device;
    dispatch(kind, a)
}
