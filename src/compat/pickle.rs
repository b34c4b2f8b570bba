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
//! objects. References to one object from two places (the memo) come back
//! as two equal copies; a pickle that refers to itself is refused.
//!
//! Persistent ids, the extension registry and out-of-band buffers are not
//! used by `pickle.dumps` and are refused, as is anything nested deeper than
//! [`MAX_DEPTH`] or larger than [`MAX_NODES`] once expanded.

use std::collections::HashMap;

/// Deepest nesting accepted.
pub(crate) const MAX_DEPTH: usize = 128;
/// Most values one pickle may expand to (memo references included).
pub(crate) const MAX_NODES: usize = 1_000_000;

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
            Self::Global(module, name) => format!("{module}.{name}"),
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

fn err<T>(what: impl Into<String>) -> Result<T, Error> {
    Err(Error(what.into()))
}

/// A value under construction: containers point at other nodes, so that
/// objects mutated after they were memoized are seen mutated.
#[derive(Debug, Clone)]
enum Node {
    Leaf(Value),
    List(Vec<usize>),
    Tuple(Vec<usize>),
    Dict(Vec<(usize, usize)>),
    Set(Vec<usize>),
    FrozenSet(Vec<usize>),
    Reduce(usize, usize),
    NewObj(usize, usize),
    NewObjEx(usize, usize, usize),
    Build(usize, usize),
    Extend(usize, Vec<usize>),
    Update(usize, Vec<(usize, usize)>),
}

enum Slot {
    Mark,
    Node(usize),
}

struct Machine<'a> {
    input: &'a [u8],
    at: usize,
    nodes: Vec<Node>,
    stack: Vec<Slot>,
    memo: HashMap<u64, usize>,
}

/// Reads one pickle (protocols 0 to 5) into a value tree.
///
/// # Errors
///
/// [`Error`] when the bytes are not a complete pickle, use an opcode that is
/// refused (see the module docs), or are too deep or too large.
pub(crate) fn parse(input: &[u8]) -> Result<Value, Error> {
    let mut m = Machine {
        input,
        at: 0,
        nodes: Vec::new(),
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    let root = m.run()?;
    if m.at != input.len() {
        return err("trailing bytes after the STOP opcode");
    }
    let mut budget = MAX_NODES;
    m.expand(root, 0, &mut budget)
}

impl Machine<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Error> {
        let end = self
            .at
            .checked_add(n)
            .filter(|&end| end <= self.input.len())
            .ok_or_else(|| Error("the pickle ends too early".into()))?;
        let bytes = &self.input[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn byte(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn line(&mut self) -> Result<&[u8], Error> {
        let rest = &self.input[self.at..];
        let len = rest
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| Error("a text argument has no end of line".into()))?;
        self.at += len + 1;
        Ok(&rest[..len])
    }

    fn text_line(&mut self) -> Result<String, Error> {
        let line = self.line()?;
        String::from_utf8(line.to_vec()).map_err(|_| Error("a name is not UTF-8".into()))
    }

    fn sized(&mut self, len: u64) -> Result<Vec<u8>, Error> {
        let len = usize::try_from(len).map_err(|_| Error("a length is too large".into()))?;
        Ok(self.take(len)?.to_vec())
    }

    fn add(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn push(&mut self, node: Node) {
        let id = self.add(node);
        self.stack.push(Slot::Node(id));
    }

    fn leaf(&mut self, value: Value) {
        self.push(Node::Leaf(value));
    }

    fn pop(&mut self) -> Result<usize, Error> {
        match self.stack.pop() {
            Some(Slot::Node(id)) => Ok(id),
            Some(Slot::Mark) => err("a MARK where a value was expected"),
            None => err("the stack is empty"),
        }
    }

    fn top(&self) -> Result<usize, Error> {
        match self.stack.last() {
            Some(Slot::Node(id)) => Ok(*id),
            _ => err("no value on the stack"),
        }
    }

    fn pop_mark(&mut self) -> Result<Vec<usize>, Error> {
        let mut items = Vec::new();
        loop {
            match self.stack.pop() {
                Some(Slot::Node(id)) => items.push(id),
                Some(Slot::Mark) => break,
                None => return err("no MARK before a MARK-ended opcode"),
            }
        }
        items.reverse();
        Ok(items)
    }

    fn pairs(items: Vec<usize>) -> Result<Vec<(usize, usize)>, Error> {
        if !items.len().is_multiple_of(2) {
            return err("a dict has a key without a value");
        }
        Ok(items.chunks(2).map(|c| (c[0], c[1])).collect())
    }

    fn str_node(&self, id: usize) -> Result<String, Error> {
        match &self.nodes[id] {
            Node::Leaf(v) => v.as_str().map(str::to_owned),
            _ => None,
        }
        .ok_or_else(|| Error("STACK_GLOBAL needs two str names".into()))
    }

    fn memo_put(&mut self, index: u64) -> Result<(), Error> {
        let id = self.top()?;
        self.memo.insert(index, id);
        Ok(())
    }

    fn memo_get(&mut self, index: u64) -> Result<(), Error> {
        let id = *self
            .memo
            .get(&index)
            .ok_or_else(|| Error("a memo reference to nothing".into()))?;
        self.stack.push(Slot::Node(id));
        Ok(())
    }

    fn appends(&mut self, target: usize, items: Vec<usize>) -> Result<(), Error> {
        match &mut self.nodes[target] {
            Node::List(list) | Node::Extend(_, list) => list.extend(items),
            _ => {
                let inner = self.add(self.nodes[target].clone());
                self.nodes[target] = Node::Extend(inner, items);
            }
        }
        Ok(())
    }

    fn setitems(&mut self, target: usize, pairs: Vec<(usize, usize)>) -> Result<(), Error> {
        match &mut self.nodes[target] {
            Node::Dict(dict) | Node::Update(_, dict) => dict.extend(pairs),
            _ => {
                let inner = self.add(self.nodes[target].clone());
                self.nodes[target] = Node::Update(inner, pairs);
            }
        }
        Ok(())
    }

    fn int_line(&mut self) -> Result<i64, Error> {
        let line = self.text_line()?;
        let digits = line.strip_suffix('L').unwrap_or(&line);
        digits
            .parse()
            .map_err(|_| Error("a text int is malformed or beyond 64 bits".into()))
    }

    fn index_line(&mut self) -> Result<u64, Error> {
        let line = self.text_line()?;
        line.parse()
            .map_err(|_| Error("a memo index is malformed".into()))
    }

    /// Runs opcodes until STOP; returns the node left on the stack.
    fn run(&mut self) -> Result<usize, Error> {
        loop {
            let op = self.byte()?;
            match op {
                b'.' => return self.pop(),
                b'(' => self.stack.push(Slot::Mark),
                b'0' => {
                    self.stack.pop();
                }
                b'1' => {
                    self.pop_mark()?;
                }
                b'2' => {
                    let id = self.top()?;
                    self.stack.push(Slot::Node(id));
                }
                // Protocol and framing: nothing to build.
                0x80 => {
                    let proto = self.byte()?;
                    if proto > 5 {
                        return err(format!("protocol {proto} is newer than 5"));
                    }
                }
                0x95 => {
                    self.take(8)?;
                }
                b'N' => self.leaf(Value::None),
                0x88 => self.leaf(Value::Bool(true)),
                0x89 => self.leaf(Value::Bool(false)),
                b'I' => {
                    let line = self.text_line()?;
                    let value = match line.as_str() {
                        "01" => Value::Bool(true),
                        "00" => Value::Bool(false),
                        n => Value::Int(n.parse().map_err(|_| {
                            Error("a text int is malformed or beyond 64 bits".into())
                        })?),
                    };
                    self.leaf(value);
                }
                b'L' => {
                    let n = self.int_line()?;
                    self.leaf(Value::Int(n));
                }
                b'J' => {
                    let n = i32::from_le_bytes(self.array()?);
                    self.leaf(Value::Int(n.into()));
                }
                b'K' => {
                    let n = self.byte()?;
                    self.leaf(Value::Int(n.into()));
                }
                b'M' => {
                    let n = u16::from_le_bytes(self.array()?);
                    self.leaf(Value::Int(n.into()));
                }
                0x8a => {
                    let len = self.byte()?;
                    let bytes = self.sized(len.into())?;
                    self.leaf(long_value(bytes));
                }
                0x8b => {
                    let len = i32::from_le_bytes(self.array()?);
                    let len = u64::try_from(len).map_err(|_| Error("a negative length".into()))?;
                    let bytes = self.sized(len)?;
                    self.leaf(long_value(bytes));
                }
                b'F' => {
                    let line = self.text_line()?;
                    let f = line
                        .parse()
                        .map_err(|_| Error("a text float is malformed".into()))?;
                    self.leaf(Value::Float(f));
                }
                b'G' => {
                    let f = f64::from_be_bytes(self.array()?);
                    self.leaf(Value::Float(f));
                }
                b'S' => {
                    let line = self.line()?.to_vec();
                    self.leaf(Value::Str8(unquote_repr(&line)?));
                }
                b'T' => {
                    let len = i32::from_le_bytes(self.array()?);
                    let len = u64::try_from(len).map_err(|_| Error("a negative length".into()))?;
                    let bytes = self.sized(len)?;
                    self.leaf(Value::Str8(bytes));
                }
                b'U' => {
                    let len = self.byte()?;
                    let bytes = self.sized(len.into())?;
                    self.leaf(Value::Str8(bytes));
                }
                b'V' => {
                    let line = self.line()?.to_vec();
                    self.leaf(Value::Str(raw_unicode_escape(&line)?));
                }
                b'X' | 0x8c | 0x8d => {
                    let len = match op {
                        b'X' => u32::from_le_bytes(self.array()?).into(),
                        0x8c => self.byte()?.into(),
                        _ => u64::from_le_bytes(self.array()?),
                    };
                    let bytes = self.sized(len)?;
                    let s = String::from_utf8(bytes)
                        .map_err(|_| Error("a str is not UTF-8 (lone surrogates)".into()))?;
                    self.leaf(Value::Str(s));
                }
                b'B' | b'C' | 0x8e | 0x96 => {
                    let len = match op {
                        b'B' => u32::from_le_bytes(self.array()?).into(),
                        b'C' => self.byte()?.into(),
                        _ => u64::from_le_bytes(self.array()?),
                    };
                    let bytes = self.sized(len)?;
                    self.leaf(if op == 0x96 {
                        Value::ByteArray(bytes)
                    } else {
                        Value::Bytes(bytes)
                    });
                }
                b']' => self.push(Node::List(Vec::new())),
                b'l' => {
                    let items = self.pop_mark()?;
                    self.push(Node::List(items));
                }
                b'a' => {
                    let item = self.pop()?;
                    let list = self.top()?;
                    self.appends(list, vec![item])?;
                }
                b'e' => {
                    let items = self.pop_mark()?;
                    let list = self.top()?;
                    self.appends(list, items)?;
                }
                b')' => self.push(Node::Tuple(Vec::new())),
                b't' => {
                    let items = self.pop_mark()?;
                    self.push(Node::Tuple(items));
                }
                0x85..=0x87 => {
                    let n = usize::from(op - 0x84);
                    let mut items = Vec::with_capacity(n);
                    for _ in 0..n {
                        items.push(self.pop()?);
                    }
                    items.reverse();
                    self.push(Node::Tuple(items));
                }
                b'}' => self.push(Node::Dict(Vec::new())),
                b'd' => {
                    let items = self.pop_mark()?;
                    let pairs = Self::pairs(items)?;
                    self.push(Node::Dict(pairs));
                }
                b's' => {
                    let value = self.pop()?;
                    let key = self.pop()?;
                    let dict = self.top()?;
                    self.setitems(dict, vec![(key, value)])?;
                }
                b'u' => {
                    let items = self.pop_mark()?;
                    let pairs = Self::pairs(items)?;
                    let dict = self.top()?;
                    self.setitems(dict, pairs)?;
                }
                0x8f => self.push(Node::Set(Vec::new())),
                0x90 => {
                    let items = self.pop_mark()?;
                    let set = self.top()?;
                    match &mut self.nodes[set] {
                        Node::Set(members) => members.extend(items),
                        _ => return err("ADDITEMS on something that is not a set"),
                    }
                }
                0x91 => {
                    let items = self.pop_mark()?;
                    self.push(Node::FrozenSet(items));
                }
                b'c' => {
                    let module = self.text_line()?;
                    let name = self.text_line()?;
                    self.leaf(Value::Global(module, name));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (module, name) = (self.str_node(module)?, self.str_node(name)?);
                    if module.contains('\n') || name.contains('\n') {
                        return err("a global name holds a line break");
                    }
                    self.leaf(Value::Global(module, name));
                }
                b'R' => {
                    let args = self.pop()?;
                    let callable = self.pop()?;
                    self.push(Node::Reduce(callable, args));
                }
                0x81 => {
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.push(Node::NewObj(cls, args));
                }
                0x92 => {
                    let kwargs = self.pop()?;
                    let args = self.pop()?;
                    let cls = self.pop()?;
                    self.push(Node::NewObjEx(cls, args, kwargs));
                }
                b'b' => {
                    let state = self.pop()?;
                    let obj = self.top()?;
                    let inner = self.add(self.nodes[obj].clone());
                    self.nodes[obj] = Node::Build(inner, state);
                }
                b'p' => {
                    let index = self.index_line()?;
                    self.memo_put(index)?;
                }
                b'q' => {
                    let index = self.byte()?;
                    self.memo_put(index.into())?;
                }
                b'r' => {
                    let index = u32::from_le_bytes(self.array()?);
                    self.memo_put(index.into())?;
                }
                0x94 => {
                    let index = self.memo.len() as u64;
                    self.memo_put(index)?;
                }
                b'g' => {
                    let index = self.index_line()?;
                    self.memo_get(index)?;
                }
                b'h' => {
                    let index = self.byte()?;
                    self.memo_get(index.into())?;
                }
                b'j' => {
                    let index = u32::from_le_bytes(self.array()?);
                    self.memo_get(index.into())?;
                }
                b'P' | b'Q' => return err("persistent ids are not supported"),
                0x82..=0x84 => return err("the extension registry is not supported"),
                0x97 | 0x98 => return err("out-of-band buffers are not supported"),
                b'i' | b'o' => return err("Python 2 old-style instances are not supported"),
                other => return err(format!("unknown opcode 0x{other:02x}")),
            }
        }
    }

    /// Turns node `id` into an owned tree, copying shared references.
    fn expand(&self, id: usize, depth: usize, budget: &mut usize) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return err(format!(
                "nested deeper than {MAX_DEPTH} levels (or refers to itself)"
            ));
        }
        *budget = budget
            .checked_sub(1)
            .ok_or_else(|| Error(format!("expands to more than {MAX_NODES} values")))?;
        let d = depth + 1;
        let one = |id: usize, budget: &mut usize| self.expand(id, d, budget).map(Box::new);
        let many = |ids: &[usize], budget: &mut usize| {
            ids.iter()
                .map(|&id| self.expand(id, d, budget))
                .collect::<Result<Vec<_>, _>>()
        };
        let pairs = |pairs: &[(usize, usize)], budget: &mut usize| {
            pairs
                .iter()
                .map(|&(k, v)| Ok((self.expand(k, d, budget)?, self.expand(v, d, budget)?)))
                .collect::<Result<Vec<_>, Error>>()
        };
        Ok(match &self.nodes[id] {
            Node::Leaf(value) => value.clone(),
            Node::List(items) => Value::List(many(items, budget)?),
            Node::Tuple(items) => Value::Tuple(many(items, budget)?),
            Node::Set(items) => Value::Set(many(items, budget)?),
            Node::FrozenSet(items) => Value::FrozenSet(many(items, budget)?),
            Node::Dict(items) => Value::Dict(pairs(items, budget)?),
            Node::Reduce(f, args) => Value::Reduce(one(*f, budget)?, one(*args, budget)?),
            Node::NewObj(cls, args) => Value::NewObj(one(*cls, budget)?, one(*args, budget)?),
            Node::NewObjEx(cls, args, kwargs) => Value::NewObjEx(
                one(*cls, budget)?,
                one(*args, budget)?,
                one(*kwargs, budget)?,
            ),
            Node::Build(obj, state) => Value::Build(one(*obj, budget)?, one(*state, budget)?),
            Node::Extend(obj, items) => Value::Extend(one(*obj, budget)?, many(items, budget)?),
            Node::Update(obj, items) => Value::Update(one(*obj, budget)?, pairs(items, budget)?),
        })
    }
}

/// An int from `LONG1`/`LONG4` bytes: `Int` when it fits in 64 bits.
fn long_value(bytes: Vec<u8>) -> Value {
    if bytes.len() <= 8 {
        let fill = if bytes.last().is_some_and(|b| b & 0x80 != 0) {
            0xff
        } else {
            0
        };
        let mut full = [fill; 8];
        full[..bytes.len()].copy_from_slice(&bytes);
        Value::Int(i64::from_le_bytes(full))
    } else {
        Value::Long(bytes)
    }
}

/// The shortest little-endian two's complement bytes of `n` (none for 0),
/// as Python's `LONG1` writes them.
fn long_bytes(n: i64) -> Vec<u8> {
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

/// Decodes a Python 2 `repr` of a str (`'...'` or `"..."` with escapes).
fn unquote_repr(line: &[u8]) -> Result<Vec<u8>, Error> {
    let inner = match line {
        [q, inner @ .., q2] if (q == &b'\'' || q == &b'"') && q == q2 => inner,
        _ => return err("a text string is not quoted"),
    };
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        let b = inner[i];
        i += 1;
        if b != b'\\' {
            out.push(b);
            continue;
        }
        let e = *inner
            .get(i)
            .ok_or_else(|| Error("a text string ends in a backslash".into()))?;
        i += 1;
        match e {
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'\\' | b'\'' | b'"' => out.push(e),
            b'x' => {
                let hex = inner
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| Error("a bad \\x escape".into()))?;
                out.push(hex);
                i += 2;
            }
            b'0'..=b'7' => {
                let mut n = u32::from(e - b'0');
                for _ in 0..2 {
                    match inner.get(i) {
                        Some(d @ b'0'..=b'7') => {
                            n = n * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(u8::try_from(n).map_err(|_| Error("a bad octal escape".into()))?);
            }
            _ => {
                out.push(b'\\');
                out.push(e);
            }
        }
    }
    Ok(out)
}

/// Decodes Python's `raw-unicode-escape` (the `UNICODE` opcode).
fn raw_unicode_escape(line: &[u8]) -> Result<String, Error> {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        let b = line[i];
        let width = match (b, line.get(i + 1)) {
            (b'\\', Some(b'u')) => 4,
            (b'\\', Some(b'U')) => 8,
            _ => 0,
        };
        if width == 0 {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        let c = line
            .get(i + 2..i + 2 + width)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .and_then(char::from_u32)
            .ok_or_else(|| Error("a bad \\u escape (or a lone surrogate)".into()))?;
        out.push(c);
        i += 2 + width;
    }
    Ok(out)
}

/// The lowest protocol that has every opcode `value` needs (at least 2;
/// 3 once a `bytes` or a global appears, so that Python 3 reads names as
/// they are, without its Python 2 import mapping).
fn protocol(value: &Value) -> u8 {
    let own = match value {
        // The eight-byte length forms are protocol 4.
        Value::Str(s) if u32::try_from(s.len()).is_err() => 4,
        Value::Bytes(b) if u32::try_from(b.len()).is_err() => 4,
        Value::Bytes(_) | Value::Global(..) => 3,
        Value::Set(_) | Value::FrozenSet(_) | Value::NewObjEx(..) => 4,
        Value::ByteArray(_) => 5,
        _ => 2,
    };
    let children = match value {
        Value::List(items) | Value::Tuple(items) | Value::Set(items) | Value::FrozenSet(items) => {
            items.iter().map(protocol).max()
        }
        Value::Dict(pairs) => pairs
            .iter()
            .map(|(k, v)| protocol(k).max(protocol(v)))
            .max(),
        Value::Reduce(a, b) | Value::NewObj(a, b) | Value::Build(a, b) => {
            Some(protocol(a).max(protocol(b)))
        }
        Value::NewObjEx(a, b, c) => Some(protocol(a).max(protocol(b)).max(protocol(c))),
        Value::Extend(obj, items) => items.iter().map(protocol).max().max(Some(protocol(obj))),
        Value::Update(obj, pairs) => pairs
            .iter()
            .map(|(k, v)| protocol(k).max(protocol(v)))
            .max()
            .max(Some(protocol(obj))),
        _ => None,
    };
    children.map_or(own, |c| c.max(own))
}

/// Writes `value` as one pickle, with the lowest protocol that holds it.
pub(crate) fn to_bytes(value: &Value) -> Vec<u8> {
    let mut out = vec![0x80, protocol(value)];
    emit(value, &mut out);
    out.push(b'.');
    out
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

fn emit_items(items: &[Value], end: u8, out: &mut Vec<u8>) {
    out.push(b'(');
    for item in items {
        emit(item, out);
    }
    out.push(end);
}

fn emit_pairs(pairs: &[(Value, Value)], out: &mut Vec<u8>) {
    out.push(b'(');
    for (k, v) in pairs {
        emit(k, out);
        emit(v, out);
    }
    out.push(b'u');
}

fn emit(value: &Value, out: &mut Vec<u8>) {
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
        Value::Bytes(b) => sized(out, Some(b'C'), b'B', 0x8e, b),
        Value::ByteArray(b) => {
            out.push(0x96);
            out.extend_from_slice(&(b.len() as u64).to_le_bytes());
            out.extend_from_slice(b);
        }
        Value::List(items) => {
            out.push(b']');
            if !items.is_empty() {
                emit_items(items, b'e', out);
            }
        }
        Value::Tuple(items) => match items.len() {
            0 => out.push(b')'),
            n @ 1..=3 => {
                for item in items {
                    emit(item, out);
                }
                out.push(0x84 + n as u8);
            }
            _ => emit_items(items, b't', out),
        },
        Value::Dict(pairs) => {
            out.push(b'}');
            if !pairs.is_empty() {
                emit_pairs(pairs, out);
            }
        }
        Value::Set(items) => {
            out.push(0x8f);
            if !items.is_empty() {
                emit_items(items, 0x90, out);
            }
        }
        Value::FrozenSet(items) => emit_items(items, 0x91, out),
        Value::Global(module, name) => {
            out.push(b'c');
            out.extend_from_slice(module.as_bytes());
            out.push(b'\n');
            out.extend_from_slice(name.as_bytes());
            out.push(b'\n');
        }
        Value::Reduce(f, args) => {
            emit(f, out);
            emit(args, out);
            out.push(b'R');
        }
        Value::NewObj(cls, args) => {
            emit(cls, out);
            emit(args, out);
            out.push(0x81);
        }
        Value::NewObjEx(cls, args, kwargs) => {
            emit(cls, out);
            emit(args, out);
            emit(kwargs, out);
            out.push(0x92);
        }
        Value::Build(obj, state) => {
            emit(obj, out);
            emit(state, out);
            out.push(b'b');
        }
        Value::Extend(obj, items) => {
            emit(obj, out);
            emit_items(items, b'e', out);
        }
        Value::Update(obj, pairs) => {
            emit(obj, out);
            emit_pairs(pairs, out);
        }
    }
}

#[cfg(test)]
mod tests;
