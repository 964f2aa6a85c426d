//! The MusicVAE model (burn): fused LSTM, encoder, flat and hierarchical decoders, loss, configs,
//! model folders (save and load, [`store`]).

pub mod average;
pub mod batch;
pub mod config;
pub mod decoder;
pub mod dropout;
pub mod export;
pub mod flat_decoder;
pub mod hier_decoder;
pub mod init;
pub mod loss;
pub mod lstm;
pub mod lstm_kernel;
pub mod lstm_op;
pub mod matmul_op;
pub mod noise;
pub mod panels;
pub mod record_check;
pub mod stepwise_kernel;
pub mod store;
pub mod vae;

pub use config::{Config, ModelConfig, SamplingSchedule, TrainConfig};
pub use vae::{DecodeMode, DecodeOut, MusicVae};
