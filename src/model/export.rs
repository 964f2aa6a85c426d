//! Named weights of a [`MusicVae`] and a minimal safetensors writer, so another framework (the
//! PyTorch reference under bench/pytorch) can load exactly our parameters and check that both
//! compute the same loss.
//!
//! Names: `encoder.fwd.{l}.w_ih` `[d_in, 4H]`, `.w_hh` `[H, 4H]`, `.bias` `[4H]` (gates i, f, g, o;
//! TF's forget bias is NOT folded in: it is the config's `forget_bias`), `encoder.bwd.{l}.*`,
//! `mu.weight` `[2H, Z]`, `mu.bias`, `sigma.*`, `conductor.lstm.{l}.*`, `conductor.init.*`,
//! `cores.{k}.lstm.{l}.*`, `cores.{k}.init.*`, `cores.{k}.out.*`. Dense weights are `[d_in, d_out]`.

use super::init::Dense;
use super::lstm::LstmCell;
use super::vae::MusicVae;
use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use burn::tensor::{backend::Backend, Tensor};
use std::path::Path;

/// A tensor with its name and shape, as f32 values in row-major order.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

fn values<B: Backend, const D: usize>(t: Tensor<B, D>) -> Result<(Vec<usize>, Vec<f32>)> {
    let shape = t.dims().to_vec();
    let data = t
        .into_data()
        .convert::<f32>()
        .to_vec::<f32>()
        .map_err(|e| Error::Invalid(format!("reading weights: {e:?}")))?;
    Ok((shape, data))
}

fn push<B: Backend, const D: usize>(
    out: &mut Vec<NamedTensor>,
    name: String,
    t: Tensor<B, D>,
) -> Result<()> {
    let (shape, data) = values(t)?;
    out.push(NamedTensor { name, shape, data });
    Ok(())
}

fn cell<B: Backend>(out: &mut Vec<NamedTensor>, prefix: &str, c: &LstmCell<B>) -> Result<()> {
    push(out, format!("{prefix}.w_ih"), c.w_ih.val())?;
    push(out, format!("{prefix}.w_hh"), c.w_hh.val())?;
    push(out, format!("{prefix}.bias"), c.bias.val())
}

fn dense<B: Backend>(out: &mut Vec<NamedTensor>, prefix: &str, d: &Dense<B>) -> Result<()> {
    push(out, format!("{prefix}.weight"), d.weight.val())?;
    push(out, format!("{prefix}.bias"), d.bias.val())
}

/// Every parameter of the model with its name.
pub fn named_tensors<B: Backend>(m: &MusicVae<B>) -> Result<Vec<NamedTensor>> {
    let mut out = Vec::new();
    for (l, c) in m.encoder.fwd.iter().enumerate() {
        cell(&mut out, &format!("encoder.fwd.{l}"), c)?;
    }
    for (l, c) in m.encoder.bwd.iter().enumerate() {
        cell(&mut out, &format!("encoder.bwd.{l}"), c)?;
    }
    dense(&mut out, "mu", &m.mu)?;
    dense(&mut out, "sigma", &m.sigma)?;
    if let Some(c) = &m.conductor {
        for (l, x) in c.lstm.layers.iter().enumerate() {
            cell(&mut out, &format!("conductor.lstm.{l}"), x)?;
        }
        dense(&mut out, "conductor.init", &c.init)?;
    }
    for (k, core) in m.cores.iter().enumerate() {
        for (l, x) in core.lstm.layers.iter().enumerate() {
            cell(&mut out, &format!("cores.{k}.lstm.{l}"), x)?;
        }
        dense(&mut out, &format!("cores.{k}.init"), &core.init)?;
        dense(&mut out, &format!("cores.{k}.out"), &core.out)?;
    }
    Ok(out)
}

/// safetensors bytes: 8-byte little-endian header length, JSON header, then the raw F32 data.
pub fn safetensors_bytes(tensors: &[NamedTensor]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut offset = 0usize;
    for t in tensors {
        let len = t.data.len() * 4;
        header.insert(
            t.name.clone(),
            serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + len]}),
        );
        offset += len;
    }
    let mut h = serde_json::Value::Object(header).to_string().into_bytes();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = Vec::with_capacity(8 + h.len() + offset);
    out.extend_from_slice(&(h.len() as u64).to_le_bytes());
    out.extend_from_slice(&h);
    for t in tensors {
        for v in &t.data {
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

/// Write tensors as a safetensors file (atomically).
pub fn write_safetensors(path: &Path, tensors: &[NamedTensor]) -> Result<()> {
    write_atomic(path, &safetensors_bytes(tensors))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Config;
    use burn::backend::NdArray;

    #[test]
    fn names_cover_every_parameter_and_the_file_is_well_formed() {
        for preset in ["tiny", "tiny-hier"] {
            let cfg = Config::preset(preset).unwrap();
            let m = MusicVae::<NdArray<f32>>::new(&cfg.model, 1, &Default::default());
            let t = named_tensors(&m).unwrap();
            let total: usize = t.iter().map(|x| x.data.len()).sum();
            use burn::module::Module;
            assert_eq!(total, m.num_params(), "{preset}");
            let b = safetensors_bytes(&t);
            let hl = u64::from_le_bytes(b[..8].try_into().unwrap()) as usize;
            let header: serde_json::Value = serde_json::from_slice(&b[8..8 + hl]).unwrap();
            assert_eq!(header.as_object().unwrap().len(), t.len());
            assert_eq!(b.len(), 8 + hl + 4 * total);
        }
    }
}
