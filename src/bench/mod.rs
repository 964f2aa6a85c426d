//! Benchmarks and the cross-framework agreement check (`musicvae bench`): training throughput,
//! interpolation latency, prepare throughput, and weights + batch + loss for the PyTorch reference.

pub mod agreement;
pub mod kernel_speed;
pub mod npy;
pub mod train_speed;

pub use train_speed::{random_windows, train_speed, DecoderMode, TrainSpeed};
