//! Checking a burn `.mpk` record before burn reads it.
//!
//! burn's record loading trusts the file: it does not compare tensor shapes with the module, and
//! burn-ndarray builds f32 arrays with an unchecked shape, so a short data buffer is read past its end.
//! This module walks the MessagePack tree of a record (without copying tensor bytes), lists every
//! tensor leaf (`{bytes, shape, dtype}`) with its path, and checks
//! - each leaf on its own: a known dtype and `bytes.len() == product(shape) × dtype size`;
//! - a model record against the record of a freshly built module of the same config: the same tensor
//!   paths and the same shapes (the dtype may differ: f16 and f32 files both load);
//! - an optimizer record against its model record: every state tensor belongs to a parameter of
//!   the model (by parameter id) and has that parameter's shape.
//!
//! Errors are one line naming the first offending tensor; callers add the file.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::{backend::Backend, Bool, Int, Tensor};
use std::collections::BTreeMap;

/// A parsed MessagePack value; binary payloads keep only their length.
#[derive(Debug, Clone, PartialEq)]
enum Node {
    Nil,
    Bool,
    Int(i128),
    Float,
    Str(String),
    Bin(usize),
    Ext,
    Array(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

/// Nesting deeper than this is not a burn record.
const MAX_DEPTH: usize = 64;

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.b.len())
            .ok_or_else(|| format!("truncated at byte {} (needs {n} more)", self.pos))?;
        let s = &self.b[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn uint(&mut self, n: usize) -> Result<u64, String> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &x| (a << 8) | x as u64))
    }
    fn int(&mut self, n: usize) -> Result<i64, String> {
        let u = self.uint(n)?;
        let shift = 64 - 8 * n as u32;
        Ok(((u << shift) as i64) >> shift)
    }
    fn len(&mut self, n: usize) -> Result<usize, String> {
        usize::try_from(self.uint(n)?).map_err(|_| "length does not fit in memory".to_string())
    }
    fn str(&mut self, n: usize) -> Result<Node, String> {
        let s = self.take(n)?;
        Ok(Node::Str(String::from_utf8_lossy(s).into_owned()))
    }
    fn bin(&mut self, n: usize) -> Result<Node, String> {
        self.take(n)?;
        Ok(Node::Bin(n))
    }
    fn array(&mut self, n: usize, depth: usize) -> Result<Node, String> {
        // Every element takes at least one byte: a hostile length cannot allocate more than the file.
        let mut v = Vec::with_capacity(n.min(self.b.len() - self.pos));
        for _ in 0..n {
            v.push(self.node(depth + 1)?);
        }
        Ok(Node::Array(v))
    }
    fn map(&mut self, n: usize, depth: usize) -> Result<Node, String> {
        let mut v = Vec::with_capacity(n.min(self.b.len() - self.pos));
        for _ in 0..n {
            let k = self.node(depth + 1)?;
            let val = self.node(depth + 1)?;
            v.push((k, val));
        }
        Ok(Node::Map(v))
    }
    fn node(&mut self, depth: usize) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err("nested too deeply".into());
        }
        let t = self.take(1)?[0];
        match t {
            0x00..=0x7f => Ok(Node::Int(t as i128)),
            0x80..=0x8f => self.map((t & 0x0f) as usize, depth),
            0x90..=0x9f => self.array((t & 0x0f) as usize, depth),
            0xa0..=0xbf => self.str((t & 0x1f) as usize),
            0xc0 => Ok(Node::Nil),
            0xc2 | 0xc3 => Ok(Node::Bool),
            0xc4 => {
                let n = self.len(1)?;
                self.bin(n)
            }
            0xc5 => {
                let n = self.len(2)?;
                self.bin(n)
            }
            0xc6 => {
                let n = self.len(4)?;
                self.bin(n)
            }
            0xc7..=0xc9 => {
                let n = self.len(1 << (t - 0xc7))?;
                self.take(n + 1)?;
                Ok(Node::Ext)
            }
            0xca => self.take(4).map(|_| Node::Float),
            0xcb => self.take(8).map(|_| Node::Float),
            0xcc..=0xcf => Ok(Node::Int(self.uint(1 << (t - 0xcc))? as i128)),
            0xd0..=0xd3 => Ok(Node::Int(self.int(1 << (t - 0xd0))? as i128)),
            0xd4..=0xd8 => self.take(1 + (1 << (t - 0xd4))).map(|_| Node::Ext),
            0xd9 => {
                let n = self.len(1)?;
                self.str(n)
            }
            0xda => {
                let n = self.len(2)?;
                self.str(n)
            }
            0xdb => {
                let n = self.len(4)?;
                self.str(n)
            }
            0xdc => {
                let n = self.len(2)?;
                self.array(n, depth)
            }
            0xdd => {
                let n = self.len(4)?;
                self.array(n, depth)
            }
            0xde => {
                let n = self.len(2)?;
                self.map(n, depth)
            }
            0xdf => {
                let n = self.len(4)?;
                self.map(n, depth)
            }
            0xe0..=0xff => Ok(Node::Int((t as i8) as i128)),
            0xc1 => Err(format!("byte {} is not MessagePack", self.pos - 1)),
        }
    }
}

/// One tensor of a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Leaf {
    /// Dotted path of map keys and list indices, e.g. `encoder.fwd.0.w_ih.param`.
    pub path: String,
    pub shape: Vec<usize>,
    pub dtype: String,
    /// Length of the data buffer in bytes.
    pub bytes: usize,
    /// Id of the enclosing parameter (`{id, param}`), if any.
    pub param_id: Option<String>,
}

impl Leaf {
    /// Number of elements the shape implies (None on overflow).
    pub fn elements(&self) -> Option<usize> {
        self.shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
    }
}

/// Bytes per element of a dtype name as burn serialises it.
fn dtype_size(name: &str) -> Option<usize> {
    Some(match name {
        "F64" | "I64" | "U64" => 8,
        "F32" | "Flex32" | "I32" | "U32" => 4,
        "F16" | "BF16" | "I16" | "U16" => 2,
        "I8" | "U8" | "Bool" => 1,
        _ => return None,
    })
}

fn key_name(k: &Node) -> String {
    match k {
        Node::Str(s) => s.clone(),
        Node::Int(i) => i.to_string(),
        other => format!("{other:?}"),
    }
}

fn get<'n>(m: &'n [(Node, Node)], key: &str) -> Option<&'n Node> {
    m.iter()
        .find(|(k, _)| matches!(k, Node::Str(s) if s == key))
        .map(|(_, v)| v)
}

fn join(path: &str, part: &str) -> String {
    if path.is_empty() {
        part.to_string()
    } else {
        format!("{path}.{part}")
    }
}

fn tensor_leaf(
    m: &[(Node, Node)],
    path: &str,
    id: &Option<String>,
) -> Result<Option<Leaf>, String> {
    let (Some(bytes), Some(shape), Some(dtype)) =
        (get(m, "bytes"), get(m, "shape"), get(m, "dtype"))
    else {
        return Ok(None);
    };
    let bad = |why: &str| format!("tensor {path}: {why}");
    let bytes = match bytes {
        Node::Bin(n) => *n,
        Node::Array(v) => v.len(),
        _ => return Err(bad("its data is not a byte string")),
    };
    let shape = match shape {
        Node::Array(v) => v
            .iter()
            .map(|d| match d {
                Node::Int(i) => usize::try_from(*i).ok(),
                _ => None,
            })
            .collect::<Option<Vec<usize>>>()
            .ok_or_else(|| bad("its shape is not a list of sizes"))?,
        _ => return Err(bad("its shape is not a list of sizes")),
    };
    let dtype = match dtype {
        Node::Str(s) => s.clone(),
        _ => return Err(bad("unsupported element type (quantized or unknown)")),
    };
    Ok(Some(Leaf {
        path: path.to_string(),
        shape,
        dtype,
        bytes,
        param_id: id.clone(),
    }))
}

fn walk(n: &Node, path: &str, id: &Option<String>, out: &mut Vec<Leaf>) -> Result<(), String> {
    match n {
        Node::Map(m) => {
            if let Some(leaf) = tensor_leaf(m, path, id)? {
                out.push(leaf);
                return Ok(());
            }
            let id = match (get(m, "id"), get(m, "param")) {
                (Some(Node::Str(s)), Some(_)) => Some(s.clone()),
                _ => id.clone(),
            };
            for (k, v) in m {
                walk(v, &join(path, &key_name(k)), &id, out)?;
            }
        }
        Node::Array(v) => {
            for (i, x) in v.iter().enumerate() {
                walk(x, &join(path, &i.to_string()), id, out)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Every tensor of a record, each checked on its own (known dtype, data length = shape × dtype size).
pub fn tensors(bytes: &[u8]) -> Result<Vec<Leaf>, String> {
    let mut r = Reader { b: bytes, pos: 0 };
    let root = r
        .node(0)
        .map_err(|e| format!("not a burn record (MessagePack: {e})"))?;
    if r.pos != bytes.len() {
        return Err(format!(
            "not a burn record ({} bytes after the end of the record)",
            bytes.len() - r.pos
        ));
    }
    let mut out = Vec::new();
    walk(&root, "", &None, &mut out)?;
    for l in &out {
        let size = dtype_size(&l.dtype)
            .ok_or_else(|| format!("tensor {}: unsupported element type {}", l.path, l.dtype))?;
        let need = l.elements().and_then(|e| e.checked_mul(size));
        if need != Some(l.bytes) {
            return Err(format!(
                "tensor {}: shape {:?} of {} needs {} bytes but {} are stored",
                l.path,
                l.shape,
                l.dtype,
                need.map_or("more than memory".to_string(), |n| n.to_string()),
                l.bytes
            ));
        }
    }
    Ok(out)
}

/// The tensors a module's record holds (paths as [`tensors`] names them, shapes), read from the
/// module itself: what serialising a fresh module and parsing it back gives, without writing
/// every weight (the check of a loaded file against its config used to serialise a whole model).
pub fn module_structure<B: Backend, M: Module<B>>(module: &M) -> Vec<Leaf> {
    let mut v = Structure {
        path: vec!["item".to_string()],
        leaves: Vec::new(),
    };
    module.visit(&mut v);
    v.leaves
}

struct Structure {
    path: Vec<String>,
    leaves: Vec<Leaf>,
}

impl Structure {
    fn push(&mut self, shape: Vec<usize>, dtype: &str, id: String) {
        self.leaves.push(Leaf {
            path: format!("{}.param", self.path.join(".")),
            shape,
            dtype: dtype.to_string(),
            bytes: 0,
            param_id: Some(id),
        });
    }
}

impl<B: Backend> ModuleVisitor<B> for Structure {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<B, D>>) {
        self.push(p.lazy_shape().to_vec(), "F32", p.id.to_string());
    }
    fn visit_int<const D: usize>(&mut self, p: &Param<Tensor<B, D, Int>>) {
        self.push(p.lazy_shape().to_vec(), "I64", p.id.to_string());
    }
    fn visit_bool<const D: usize>(&mut self, p: &Param<Tensor<B, D, Bool>>) {
        self.push(p.lazy_shape().to_vec(), "Bool", p.id.to_string());
    }
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }
    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }
}

/// Total number of elements of checked leaves.
pub fn total_elements(leaves: &[Leaf]) -> u128 {
    leaves
        .iter()
        .map(|l| l.elements().map_or(u128::MAX, |e| e as u128))
        .fold(0u128, u128::saturating_add)
}

/// Same tensor paths and shapes as `expected` (the record of a fresh module of the config).
pub fn same_structure(found: &[Leaf], expected: &[Leaf]) -> Result<(), String> {
    let f: BTreeMap<&str, &Leaf> = found.iter().map(|l| (l.path.as_str(), l)).collect();
    let e: BTreeMap<&str, &Leaf> = expected.iter().map(|l| (l.path.as_str(), l)).collect();
    for (p, el) in &e {
        match f.get(p) {
            None => return Err(format!("tensor {p} is missing")),
            Some(fl) if fl.shape != el.shape => {
                return Err(format!(
                    "tensor {p} has shape {:?}, the config needs {:?}",
                    fl.shape, el.shape
                ))
            }
            _ => {}
        }
    }
    if let Some(p) = f.keys().find(|p| !e.contains_key(*p)) {
        return Err(format!("tensor {p} is not part of this model"));
    }
    Ok(())
}

/// Every optimizer state tensor belongs to a parameter of `model` and has its shape.
pub fn optimizer_matches(optim: &[Leaf], model: &[Leaf]) -> Result<(), String> {
    let shapes: BTreeMap<&str, &Vec<usize>> = model
        .iter()
        .filter_map(|l| l.param_id.as_deref().map(|id| (id, &l.shape)))
        .collect();
    for l in optim {
        let Some((id, shape)) = l
            .path
            .split('.')
            .find_map(|part| shapes.get_key_value(part))
        else {
            return Err(format!(
                "optimizer tensor {} belongs to no parameter of the model",
                l.path
            ));
        };
        if &l.shape != *shape {
            return Err(format!(
                "optimizer tensor {} has shape {:?}, its parameter {id} has {:?}",
                l.path, l.shape, shape
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    // {"a": {"bytes": bin(8), "shape": [2], "dtype": "F32"}}
    fn record(shape: &[u8], data: usize) -> Vec<u8> {
        let mut b = vec![0x81, 0xa1, b'a', 0x83];
        b.extend([0xa5, b'b', b'y', b't', b'e', b's', 0xc4, data as u8]);
        b.extend(std::iter::repeat_n(0u8, data));
        b.extend([0xa5, b's', b'h', b'a', b'p', b'e', 0x90 | shape.len() as u8]);
        b.extend(shape);
        b.extend([0xa5, b'd', b't', b'y', b'p', b'e', 0xa3, b'F', b'3', b'2']);
        b
    }

    #[test]
    fn leaves_and_lengths() {
        let l = tensors(&record(&[2], 8)).unwrap();
        assert_eq!(l.len(), 1);
        assert_eq!((l[0].path.as_str(), l[0].shape.clone()), ("a", vec![2]));
        let e = tensors(&record(&[3], 8)).unwrap_err();
        assert!(e.contains("needs 12 bytes but 8"), "{e}");
        let mut cut = record(&[2], 8);
        cut.truncate(10);
        assert!(tensors(&cut).unwrap_err().contains("truncated"));
        // A huge claimed array length allocates nothing and fails cleanly.
        assert!(tensors(&[0xdd, 0xff, 0xff, 0xff, 0xff]).is_err());
    }

    #[test]
    fn structure_comparison() {
        let a = tensors(&record(&[2], 8)).unwrap();
        let mut b = a.clone();
        b[0].shape = vec![1, 2];
        assert!(same_structure(&a, &a).is_ok());
        assert!(same_structure(&b, &a).unwrap_err().contains("shape [1, 2]"));
        b[0].path = "x".into();
        assert!(same_structure(&b, &a).unwrap_err().contains("missing"));
    }
}
