//! Backend selection: CPU (burn's ndarray) always; NVIDIA GPU with the `cuda` feature.

use anyhow::{bail, Result};
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeviceKind {
    Cpu,
    Cuda,
}

pub type CpuBackend = burn::backend::NdArray<f32>;
pub type CpuTrain = burn::backend::Autodiff<CpuBackend>;
#[cfg(feature = "cuda")]
pub type CudaBackend = burn::backend::Cuda<f32, i32>;
#[cfg(feature = "cuda")]
pub type CudaTrain = burn::backend::Autodiff<CudaBackend>;

/// Fail early with a useful message when CUDA was asked for but not compiled in.
pub fn check(kind: DeviceKind) -> Result<()> {
    if kind == DeviceKind::Cuda && !cfg!(feature = "cuda") {
        bail!("this musicvae was built without GPU support: rebuild with `cargo build --release --features cuda` (needs the NVIDIA driver and CUDA toolkit at run time)");
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
        #[cfg(feature = "cuda")]
        DeviceKind::Cuda => job.run::<CudaBackend>(&burn::backend::cuda::CudaDevice::default()),
        #[cfg(not(feature = "cuda"))]
        DeviceKind::Cuda => bail!("this musicvae was built without GPU support"),
    }
}

/// `--model` and `--device`, shared by the commands that use a trained model.
#[derive(clap::Args, Debug, Clone)]
pub struct ModelArgs {
    /// Model folder (written by `musicvae train`) or the name of a folder under models/.
    /// Default: the shipped 2-bar melody model, models/mel_2bar.
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
    /// Resolve and load the model on `device` (the inference backend), printing which one.
    pub fn load<B: burn::tensor::backend::Backend>(
        &self,
        device: &B::Device,
    ) -> Result<musicvae::generate::Vae<B>> {
        use anyhow::Context;
        let dir = self.resolve()?;
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
}
