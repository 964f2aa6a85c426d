//! A minimal `.npy` writer and reader (format 1.0, little-endian, C order) for the token and
//! tensor files exchanged with the PyTorch reference.

use crate::error::{Error, Result};
use crate::io_util::write_atomic;
use std::path::Path;

/// Element types we exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    U16,
    F32,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Dtype::U16 => "<u2",
            Dtype::F32 => "<f4",
        }
    }
}

fn header(dtype: Dtype, shape: &[usize]) -> Vec<u8> {
    let dims: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
    let shape_s = if dims.len() == 1 {
        format!("({},)", dims[0])
    } else {
        format!("({})", dims.join(", "))
    };
    let mut h = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {shape_s}, }}",
        dtype.descr()
    )
    .into_bytes();
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + h.len() + 1) % 64 != 0 {
        h.push(b' ');
    }
    h.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(h.len() as u16).to_le_bytes());
    out.extend_from_slice(&h);
    out
}

/// Write u16 values with `shape`.
pub fn write_u16(path: &Path, shape: &[usize], data: &[u16]) -> Result<()> {
    let mut out = header(Dtype::U16, shape);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &out)
}

/// Write f32 values with `shape`.
pub fn write_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<()> {
    let mut out = header(Dtype::F32, shape);
    for v in data {
        out.extend_from_slice(&v.to_le_bytes());
    }
    write_atomic(path, &out)
}

/// Read a 2-D `<u2` array written by [`write_u16`] (or numpy): (shape, values).
pub fn read_u16_2d(path: &Path) -> Result<([usize; 2], Vec<u16>)> {
    let b = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |why: &str| Error::bad_input(path, format!("not a 2-D uint16 .npy file ({why})"));
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(bad("no .npy magic"));
    }
    let hl = u16::from_le_bytes([b[8], b[9]]) as usize;
    let h = std::str::from_utf8(b.get(10..10 + hl).ok_or_else(|| bad("short header"))?)
        .map_err(|_| bad("header"))?;
    if !h.contains("'<u2'") || h.contains("'fortran_order': True") {
        return Err(bad("dtype must be <u2 in C order"));
    }
    let inner = h
        .split("'shape': (")
        .nth(1)
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("no shape"))?;
    let dims: Vec<usize> = inner
        .split(',')
        .filter(|s| !s.trim().is_empty())
        .map(|s| s.trim().parse().map_err(|_| bad("shape")))
        .collect::<Result<_>>()?;
    if dims.len() != 2 {
        return Err(bad("not 2-D"));
    }
    let data: Vec<u16> = b[10 + hl..]
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    if data.len() != dims[0] * dims[1] {
        return Err(bad("size does not match the shape"));
    }
    Ok(([dims[0], dims[1]], data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_alignment() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("t.npy");
        write_u16(&p, &[2, 3], &[1, 2, 3, 4, 5, 65535]).unwrap();
        let raw = std::fs::read(&p).unwrap();
        let hl = u16::from_le_bytes([raw[8], raw[9]]) as usize;
        assert_eq!((10 + hl) % 64, 0);
        assert_eq!(
            read_u16_2d(&p).unwrap(),
            ([2, 3], vec![1, 2, 3, 4, 5, 65535])
        );
        write_f32(&d.path().join("f.npy"), &[4], &[0.5; 4]).unwrap();
        assert!(read_u16_2d(&d.path().join("f.npy")).is_err());
    }
}
