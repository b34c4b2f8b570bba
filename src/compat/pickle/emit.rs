//! Writing value trees as pickles.

use super::Value;

/// What a tree needs of the protocol it is written with.
#[derive(Default)]
struct Needs {
    /// The lowest protocol with every opcode it uses.
    proto: u8,
    /// It holds a [`Value::Global2`].
    py2: bool,
    /// It holds something protocol 2 cannot say ([`Value::NewObjEx`], a
    /// value of 4 GiB or more).
    beyond2: bool,
}

fn needs(value: &Value, n: &mut Needs) {
    let own = match value {
        // The eight-byte length forms are protocol 4.
        Value::Str(s) if u32::try_from(s.len()).is_err() => 4,
        Value::Bytes(b) if u32::try_from(b.len()).is_err() => 4,
        Value::Bytes(_) | Value::Global(..) => 3,
        Value::Set(_) | Value::FrozenSet(_) => 4,
        Value::NewObjEx(..) => 4,
        Value::ByteArray(_) => 5,
        _ => 2,
    };
    n.proto = n.proto.max(own);
    match value {
        Value::Global2(..) => n.py2 = true,
        Value::NewObjEx(..) => n.beyond2 = true,
        Value::Str(s) if u32::try_from(s.len()).is_err() => n.beyond2 = true,
        Value::Bytes(b) if u32::try_from(b.len()).is_err() => n.beyond2 = true,
        _ => {}
    }
    match value {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            items.iter().for_each(|v| needs(v, n));
        }
        Value::Dict(pairs) => pairs.iter().for_each(|(k, v)| {
            needs(k, n);
            needs(v, n);
        }),
        Value::Reduce(a, b) | Value::NewObj(a, b) | Value::Build(a, b) => {
            needs(a, n);
            needs(b, n);
        }
        Value::NewObjEx(a, b, c) => [a, b, c].iter().for_each(|v| needs(v, n)),
        Value::Extend(obj, items) => {
            needs(obj, n);
            items.iter().for_each(|v| needs(v, n));
        }
        Value::Update(obj, pairs) => {
            needs(obj, n);
            pairs.iter().for_each(|(k, v)| {
                needs(k, n);
                needs(v, n);
            });
        }
        _ => {}
    }
}

/// Writes `value` as one pickle, with the lowest protocol that holds it
/// (at least 2; 3 once a `bytes` or a global appears, so that Python 3 reads
/// names as they are), or with protocol 2 when it holds names read from a
/// protocol 0 to 2 pickle (see [`Value::Global2`]).
pub(crate) fn to_bytes(value: &Value) -> Vec<u8> {
    let mut n = Needs::default();
    needs(value, &mut n);
    let py2 = n.py2 && !n.beyond2;
    let mut out = vec![0x80, if py2 { 2 } else { n.proto }];
    let mut w = Writer { out, py2 };
    w.emit(value);
    out = w.out;
    out.push(b'.');
    out
}

struct Writer {
    out: Vec<u8>,
    /// Protocol 2: `bytes`, `bytearray` and sets are spelled as calls.
    py2: bool,
}

/// A length-prefixed opcode: the one-byte-length form when there is one and
/// it fits, else the four-byte form, else the eight-byte one.
fn sized(out: &mut Vec<u8>, short: Option<u8>, long: u8, huge: u8, bytes: &[u8]) {
    match (short, u8::try_from(bytes.len()), u32::try_from(bytes.len())) {
        (Some(op), Ok(len), _) => out.extend_from_slice(&[op, len]),
        (_, _, Ok(len)) => {
            out.push(long);
            out.extend_from_slice(&len.to_le_bytes());
        }
        _ => {
            out.push(huge);
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        }
    }
    out.extend_from_slice(bytes);
}

impl Writer {
    fn op(&mut self, op: u8) {
        self.out.push(op);
    }

    fn items(&mut self, items: &[Value], end: u8) {
        self.op(b'(');
        for item in items {
            self.emit(item);
        }
        self.op(end);
    }

    fn pairs(&mut self, pairs: &[(Value, Value)]) {
        self.op(b'(');
        for (k, v) in pairs {
            self.emit(k);
            self.emit(v);
        }
        self.op(b'u');
    }

    fn global(&mut self, module: &str, name: &str) {
        self.op(b'c');
        self.out.extend_from_slice(module.as_bytes());
        self.op(b'\n');
        self.out.extend_from_slice(name.as_bytes());
        self.op(b'\n');
    }

    /// `module.name(*args)`, the way protocol 2 spells what it has no
    /// opcode for.
    fn call(&mut self, module: &str, name: &str, args: &[Value]) {
        self.global(module, name);
        self.emit(&Value::Tuple(args.to_vec()));
        self.op(b'R');
    }

    fn emit(&mut self, value: &Value) {
        let out = &mut self.out;
        match value {
            Value::None => out.push(b'N'),
            Value::Bool(true) => out.push(0x88),
            Value::Bool(false) => out.push(0x89),
            Value::Int(n) => {
                if let Ok(small) = u8::try_from(*n) {
                    out.extend_from_slice(&[b'K', small]);
                } else if let Ok(medium) = u16::try_from(*n) {
                    out.push(b'M');
                    out.extend_from_slice(&medium.to_le_bytes());
                } else if let Ok(int) = i32::try_from(*n) {
                    out.push(b'J');
                    out.extend_from_slice(&int.to_le_bytes());
                } else {
                    let bytes = long_bytes(*n);
                    out.extend_from_slice(&[0x8a, bytes.len() as u8]);
                    out.extend_from_slice(&bytes);
                }
            }
            Value::Long(bytes) => match u8::try_from(bytes.len()) {
                Ok(len) => {
                    out.extend_from_slice(&[0x8a, len]);
                    out.extend_from_slice(bytes);
                }
                Err(_) => {
                    out.push(0x8b);
                    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
                    out.extend_from_slice(bytes);
                }
            },
            Value::Float(f) => {
                out.push(b'G');
                out.extend_from_slice(&f.to_be_bytes());
            }
            Value::Str(s) => sized(out, None, b'X', 0x8d, s.as_bytes()),
            Value::Str8(b) => sized(out, Some(b'U'), b'T', b'T', b),
            Value::Bytes(b) if self.py2 => {
                if b.is_empty() {
                    self.call("__builtin__", "bytes", &[]);
                } else {
                    self.call(
                        "_codecs",
                        "encode",
                        &[latin1(b), Value::Str("latin1".into())],
                    );
                }
            }
            Value::Bytes(b) => sized(out, Some(b'C'), b'B', 0x8e, b),
            Value::ByteArray(b) if self.py2 => {
                let args = if b.is_empty() {
                    vec![]
                } else {
                    vec![latin1(b), Value::Str("latin-1".into())]
                };
                self.call("__builtin__", "bytearray", &args);
            }
            Value::ByteArray(b) => {
                out.push(0x96);
                out.extend_from_slice(&(b.len() as u64).to_le_bytes());
                out.extend_from_slice(b);
            }
            Value::List(items) => {
                out.push(b']');
                if !items.is_empty() {
                    self.items(items, b'e');
                }
            }
            Value::Tuple(items) => match items.len() {
                0 => out.push(b')'),
                n @ 1..=3 => {
                    for item in items {
                        self.emit(item);
                    }
                    self.op(0x84 + n as u8);
                }
                _ => self.items(items, b't'),
            },
            Value::Dict(pairs) => {
                out.push(b'}');
                if !pairs.is_empty() {
                    self.pairs(pairs);
                }
            }
            Value::Set(items) if self.py2 => {
                self.call("__builtin__", "set", &[Value::List(items.clone())]);
            }
            Value::Set(items) => {
                out.push(0x8f);
                if !items.is_empty() {
                    self.items(items, 0x90);
                }
            }
            Value::FrozenSet(items) if self.py2 => {
                self.call("__builtin__", "frozenset", &[Value::List(items.clone())]);
            }
            Value::FrozenSet(items) => self.items(items, 0x91),
            Value::Global(module, name) | Value::Global2(module, name) => {
                self.global(module, name);
            }
            Value::Reduce(f, args) => {
                self.emit(f);
                self.emit(args);
                self.op(b'R');
            }
            Value::NewObj(cls, args) => {
                self.emit(cls);
                self.emit(args);
                self.op(0x81);
            }
            Value::NewObjEx(cls, args, kwargs) => {
                self.emit(cls);
                self.emit(args);
                self.emit(kwargs);
                self.op(0x92);
            }
            Value::Build(obj, state) => {
                self.emit(obj);
                self.emit(state);
                self.op(b'b');
            }
            Value::Extend(obj, items) => {
                self.emit(obj);
                self.items(items, b'e');
            }
            Value::Update(obj, pairs) => {
                self.emit(obj);
                self.pairs(pairs);
            }
        }
    }
}

/// Bytes as the str of the same code points (how protocol 2 carries them).
fn latin1(bytes: &[u8]) -> Value {
    Value::Str(bytes.iter().map(|&b| char::from(b)).collect())
}

/// The shortest little-endian two's complement bytes of `n` (none for 0),
/// as Python's `LONG1` writes them.
pub(super) fn long_bytes(n: i64) -> Vec<u8> {
    let mut bytes = n.to_le_bytes().to_vec();
    while bytes.len() > 1 {
        let last = bytes[bytes.len() - 1];
        let next_sign = bytes[bytes.len() - 2] & 0x80;
        if (last == 0 && next_sign == 0) || (last == 0xff && next_sign != 0) {
            bytes.pop();
        } else {
            break;
        }
    }
    if n == 0 {
        bytes.clear();
    }
    bytes
}
