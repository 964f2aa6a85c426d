//! Training: data epochs, schedules, global-norm clipping, evaluation, checkpoints, the loop.

pub mod adam;
pub mod checkpoint;
pub mod clip;
pub mod curves;
pub mod data;
pub mod eval;
pub mod parallel;
pub mod recipe;
pub mod step;
pub mod trainer;

pub use trainer::{train, StepMetrics, TrainObserver, TrainOptions, TrainSummary};
