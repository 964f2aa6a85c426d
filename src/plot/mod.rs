//! Pictures: a small drawing canvas and what the project draws with it (piano rolls, training
//! curves, confusion matrices, waveforms, spectrograms). PNG only; no system fonts or libraries needed.

pub mod canvas;
pub mod chart;
pub mod heatmap;
pub mod pianoroll;
pub mod spectrogram;

pub use canvas::Canvas;
pub use chart::{grid, line_chart, waveform, ChartSpec, Series};
pub use heatmap::confusion_matrix;
pub use pianoroll::{draw_piano_roll, draw_piano_roll_columns, RollPanel};
pub use spectrogram::spectrogram;
