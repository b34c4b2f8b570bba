//! Python pickles, read and written without executing anything.
//!
//! [`parse`] runs the pickle machine of protocols 0 to 5 over a value tree:
//! plain values (None, bool, int, float, str, bytes, list, tuple, dict, set)
//! become [`Value`]s, and everything that Python would build by calling code
//! (`datetime.datetime(...)`, class instances, `OrderedDict`) is recorded as
//! the construction itself ([`Value::Global`], [`Value::Reduce`],
//! [`Value::Build`], ...), never resolved, imported or called. [`to_bytes`]
//! writes a tree back, so such objects survive a read and a write unchanged:
//! the same class, the same arguments and the same state, byte for byte.
//!
//! Invariant: for every tree `v` that [`parse`] returned,
//! `parse(&to_bytes(&v)) == v`, and Python loads both pickles as equal
//! objects. Trees read from Python 2 era pickles (protocols 0 to 2, whose
//! class names Python 3 translates) are written as protocol 2 pickles, with
//! `bytes` and sets spelled as Python 3 spells them there, and read back as
//! `bytes` and sets. References to one object from two places (the memo) come back
//! as two equal copies; a pickle that refers to itself is refused.
//!
//! Persistent ids, the extension registry and out-of-band buffers are not
//! used by `pickle.dumps` and are refused, as is anything nested deeper than
//! [`MAX_DEPTH`] or larger than [`MAX_NODES`] values or a byte budget ([`MAX_EXPANDED_BYTES`],
//! or `max_session_bytes` for sessions) once expanded: a few memo
//! references can stand for gigabytes, so the budget counts what each
//! reference becomes and stops the expansion as soon as it is spent.

mod emit;
mod parse;
mod text;

pub(crate) use emit::to_bytes;
pub(crate) use parse::{parse, parse_within};

/// Deepest nesting accepted.
pub(crate) const MAX_DEPTH: usize = 128;
/// Most values one pickle may expand to (memo references included).
pub(crate) const MAX_NODES: usize = 1_000_000;
/// Most bytes one pickle may expand to when no other budget is given
/// (memo references included: each reference counts as the copy it
/// becomes): 1 MiB, the default of `max_session_bytes`. Each value counts
/// one byte plus its text, bytes or digits.
pub(crate) const MAX_EXPANDED_BYTES: u64 = 1 << 20;

/// One Python value, as a pickle describes it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    None,
    Bool(bool),
    Int(i64),
    /// An int outside `i64`: little-endian two's complement, as `LONG1` has it.
    Long(Vec<u8>),
    Float(f64),
    Str(String),
    /// A Python 2 `str` (the `STRING` opcodes), kept as its bytes.
    Str8(Vec<u8>),
    Bytes(Vec<u8>),
    ByteArray(Vec<u8>),
    List(Vec<Value>),
    Tuple(Vec<Value>),
    /// Pairs in insertion order (a later duplicate key wins, as in Python).
    Dict(Vec<(Value, Value)>),
    Set(Vec<Value>),
    FrozenSet(Vec<Value>),
    /// `module.name`: a class or function, never imported here.
    Global(String, String),
    /// A `module.name` read from a protocol 0 to 2 pickle. Python 3 maps
    /// Python 2 names (`__builtin__`, `copy_reg`, ...) when it loads those,
    /// so a tree holding one is written back as a protocol 2 pickle.
    Global2(String, String),
    /// `callable(*args)`.
    Reduce(Box<Value>, Box<Value>),
    /// `cls.__new__(cls, *args)`.
    NewObj(Box<Value>, Box<Value>),
    /// `cls.__new__(cls, *args, **kwargs)`.
    NewObjEx(Box<Value>, Box<Value>, Box<Value>),
    /// `obj.__setstate__(state)`.
    Build(Box<Value>, Box<Value>),
    /// Items appended to an object that is not a plain list.
    Extend(Box<Value>, Vec<Value>),
    /// Items set on an object that is not a plain dict.
    Update(Box<Value>, Vec<(Value, Value)>),
}

impl Value {
    /// The text of a `str` key (a Python 2 `str` too when it is ASCII, as
    /// Python 3 loads it).
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Self::Str(s) => Some(s),
            Self::Str8(b) if b.is_ascii() => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The dotted name of the class or function an opaque value is made by
    /// (for messages: never its data).
    pub(crate) fn type_name(&self) -> String {
        match self {
            Self::Global(module, name) | Self::Global2(module, name) => {
                format!("{module}.{name}")
            }
            Self::Reduce(f, _) | Self::NewObj(f, _) | Self::NewObjEx(f, _, _) => f.type_name(),
            Self::Build(obj, _) | Self::Extend(obj, _) | Self::Update(obj, _) => obj.type_name(),
            _ => "a Python object".into(),
        }
    }
}

/// Why bytes are not a pickle this module reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a readable pickle: {0}")]
pub(crate) struct Error(pub(crate) String);

pub(super) fn err<T>(what: impl Into<String>) -> Result<T, Error> {
    Err(Error(what.into()))
}

#[cfg(test)]
mod tests;
