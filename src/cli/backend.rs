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
