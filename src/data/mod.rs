//! Data pipeline: converters (sequence ↔ windows), corpus scanning and split, the prepare cache.

pub mod analyse;
pub mod cache;
pub mod converter;
pub mod corpus;
pub mod drum_augment;
pub mod fuzz;
pub mod prepare;
pub mod representation;
pub mod source;

pub use analyse::{analyse_bytes, Analysis};
pub use cache::Cache;
pub use converter::{extract, ConverterConfig, DataKind, Window};
pub use representation::Representation;
