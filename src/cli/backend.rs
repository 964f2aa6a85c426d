//! Backend selection: CPU (burn's ndarray) always; NVIDIA GPU with the `cuda` feature (burn's
//! CUDA backend with fusion and autotuning) or the `cuda-lean` feature (the same backend without
//! them: fewer kernels to compile before the first step).

use anyhow::{bail, Context, Result};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

pub type CpuBackend = burn::backend::NdArray<f32>;
pub type CpuTrain = burn::backend::Autodiff<CpuBackend>;
#[cfg(any(feature = "cuda", feature = "cuda-lean"))]
pub type CudaBackend = burn_cuda::Cuda<f32, i32>;
#[cfg(any(feature = "cuda", feature = "cuda-lean"))]
pub type CudaTrain = burn::backend::Autodiff<CudaBackend>;

/// The first CUDA device.
#[cfg(any(feature = "cuda", feature = "cuda-lean"))]
pub fn cuda_device() -> burn_cuda::CudaDevice {
    burn_cuda::CudaDevice::default()
}

/// Whether this binary has a GPU backend compiled in.
pub const CUDA_BUILT: bool = cfg!(any(feature = "cuda", feature = "cuda-lean"));

/// The shared libraries the CUDA backend loads at run time (cudarc's names, Linux): the driver
/// and NVRTC, the run-time compiler of the kernels.
const CUDA_LIBRARIES: [(&str, &[&str], &str); 2] = [
    (
        "the NVIDIA driver library libcuda.so",
        &["libcuda.so", "libcuda.so.1"],
        "install the NVIDIA driver",
    ),
    (
        "NVRTC (libnvrtc.so, CUDA toolkit)",
        &["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"],
        "install the CUDA toolkit or add its lib64 folder to LD_LIBRARY_PATH (e.g. /usr/local/cuda/lib64)",
    ),
];

/// Whether one of `names` loads as a shared library (dlopen, then closed again).
fn loads(names: &[&str]) -> bool {
    names.iter().any(|n| {
        let Ok(c) = std::ffi::CString::new(*n) else {
            return false;
        };
        // SAFETY: dlopen with a valid NUL-terminated name; the handle is closed at once.
        unsafe {
            let h = libc::dlopen(c.as_ptr(), libc::RTLD_LAZY | libc::RTLD_LOCAL);
            if h.is_null() {
                false
            } else {
                libc::dlclose(h);
                true
            }
        }
    })
}

/// The first CUDA library of `libs` that does not load, as one line naming the cause and the fix.
fn missing_library(libs: &[(&str, &[&str], &str)]) -> Option<String> {
    libs.iter()
        .find(|(_, names, _)| !loads(names))
        .map(|(what, names, fix)| {
            format!(
                "--device cuda: {what} is not found (tried {}): {fix}; --device cpu trains on the CPU",
                names.join(", ")
            )
        })
}

/// Fail early with a useful message when CUDA was asked for but not compiled in, or when the
/// driver or NVRTC cannot be loaded (instead of a panic deep in the backend).
pub fn check(kind: DeviceKind) -> Result<()> {
    if kind != DeviceKind::Cuda {
        return Ok(());
    }
    if !CUDA_BUILT {
        bail!("this musicvae was built without GPU support: rebuild with `cargo build --release --features cuda` (needs the NVIDIA driver and CUDA toolkit at run time)");
    }
    if let Some(line) = missing_library(&CUDA_LIBRARIES) {
        bail!(line);
    }
    Ok(())
}

/// A command that can run on any backend (generation, evaluation).
pub trait OnBackend {
    fn run<B: burn::tensor::backend::Backend>(self, device: &B::Device) -> Result<()>;
}

/// Run `job` on the inference backend chosen by `kind`.
pub fn dispatch<J: OnBackend>(kind: DeviceKind, job: J) -> Result<()> {
    check(kind)?;
    match kind {
        DeviceKind::Cpu => job.run::<CpuBackend>(&Default::default()),
        #[cfg(any(feature = "cuda", feature = "cuda-lean"))]
        DeviceKind::Cuda => job.run::<CudaBackend>(&cuda_device()),
        #[cfg(not(any(feature = "cuda", feature = "cuda-lean")))]
        DeviceKind::Cuda => bail!("this musicvae was built without GPU support"),
    }
}

/// `--model` and `--device`, shared by the commands that use a trained model.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model folder (written by `musicvae train`) or the name of a folder under models/.
    /// Default: the shipped 2-bar melody model, models/mel_2bar; for commands reading MIDI files
    /// that hold drum tracks (channel 10) only, the shipped drum model, models/drums_2bar.
    #[arg(long, short = 'm')]
    pub model: Option<std::path::PathBuf>,
    /// Where to run the model.
    #[arg(long, value_enum, default_value_t = DeviceKind::Cpu)]
    pub device: DeviceKind,
}

/// `--window I` / `--bar B`: which phrase of a MIDI file a command takes.
#[derive(clap::Args, Debug, Clone, Copy)]
pub struct WindowArgs {
    /// Which window of the input(s) (see `musicvae inspect FILE --windows`); default: the first
    /// with at least two notes per bar.
    #[arg(long)]
    pub window: Option<usize>,
    /// Take the window that starts at bar B of its section (1-based, as `musicvae inspect FILE
    /// --windows` lists them).
    #[arg(long, value_name = "B", conflicts_with = "window")]
    pub bar: Option<usize>,
}

impl WindowArgs {
    pub fn choice(&self) -> musicvae::generate::WindowChoice {
        musicvae::generate::WindowChoice::new(self.window, self.bar)
    }

    /// The chosen window of each file, in order.
    pub fn pick_each(
        &self,
        files: &[std::path::PathBuf],
        cfg: &musicvae::data::converter::ConverterConfig,
    ) -> Result<Vec<musicvae::generate::PickedWindow>> {
        let choice = self.choice();
        Ok(files
            .iter()
            .map(|f| musicvae::generate::pick(f, cfg, choice))
            .collect::<musicvae::Result<Vec<_>>>()?)
    }
}

impl ModelArgs {
    /// Resolve and load the model on `device` (the inference backend), printing which one, for a
    /// command that reads MIDI `inputs` (see [`resolve_for`](Self::resolve_for)).
    pub fn load_for<B: burn::tensor::backend::Backend>(
        &self,
        inputs: &[&std::path::Path],
        device: &B::Device,
    ) -> Result<musicvae::generate::Vae<B>> {
        let dir = self.resolve_for(inputs)?;
        let vae = musicvae::generate::Vae::<B>::load(&dir, device)
            .with_context(|| format!("loading the model in {}", dir.display()))?;
        println!("model: {} from {}", vae.describe(), dir.display());
        Ok(vae)
    }

    /// The model folder: `--model`, or the default one found beside the binary or in ./models.
    pub fn resolve(&self) -> Result<std::path::PathBuf> {
        Ok(musicvae::model_dir::resolve_model(
            self.model.as_deref(),
            musicvae::model_dir::DEFAULT_MODEL,
        )?)
    }

    /// The model folder for commands that read MIDI `inputs`: `--model`; without it the shipped
    /// drum model when every input holds drum notes (channel 10) only, else the default model.
    /// Says so (once) when it picks the drum model.
    pub fn resolve_for(&self, inputs: &[&std::path::Path]) -> Result<std::path::PathBuf> {
        if self.model.is_some() || inputs.is_empty() || !inputs.iter().all(|p| drums_only(p)) {
            return self.resolve();
        }
        let dir = musicvae::model_dir::resolve_model(None, musicvae::model_dir::DRUM_MODEL)
            .context("the inputs are drum tracks (channel 10 only), so the drum model is needed; pass --model for another model")?;
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            eprintln!(
                "the inputs are drum tracks (channel 10 only): using the drum model {} (--model picks another)",
                dir.display()
            )
        });
        Ok(dir)
    }
}

/// Whether the MIDI file at `p` reads and holds notes, all of them drum notes. An unreadable file
/// is not (the command then reports it where it reads it).
fn drums_only(p: &std::path::Path) -> bool {
    musicvae::music::read_midi_file(p)
        .map(|seq| !seq.notes.is_empty() && seq.notes.iter().all(|n| n.is_drum))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_cuda_library_is_one_line_with_cause_and_fix() {
        assert!(loads(&["libc.so.6"]), "the C library loads");
        let libs: [(&str, &[&str], &str); 2] = [
            ("the C library", &["libc.so.6"], "no fix needed"),
            (
                "the NVIDIA driver library libcuda.so",
                &["libmusicvae-no-such-library.so"],
                "install the NVIDIA driver",
            ),
        ];
        let line = missing_library(&libs).expect("one library is missing");
        assert!(!line.contains('\n'), "{line}");
        for part in [
            "libcuda.so",
            "libmusicvae-no-such-library.so",
            "install the NVIDIA driver",
            "--device cpu",
        ] {
            assert!(line.contains(part), "{part} in {line}");
        }
        assert_eq!(missing_library(&libs[..1]), None);
    }
}
