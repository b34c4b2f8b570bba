//! The pickle machine: opcodes in, a value tree out, nothing executed.

use std::collections::HashMap;

use super::text::{decimal_long, raw_unicode_escape, unquote_repr};
use super::{Error, MAX_DEPTH, MAX_EXPANDED_BYTES, MAX_NODES, Value, err};

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
    /// The protocol the pickle declared (0 until a PROTO opcode).
    proto: u8,
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
    parse_within(input, MAX_EXPANDED_BYTES)
}

/// What an expansion may still make: values, and bytes.
struct Budget {
    nodes: usize,
    bytes: u64,
    limit: u64,
}

impl Budget {
    /// Spends one value of `payload` bytes.
    fn spend(&mut self, payload: usize) -> Result<(), Error> {
        self.nodes = self
            .nodes
            .checked_sub(1)
            .ok_or_else(|| Error(format!("expands to more than {MAX_NODES} values")))?;
        let cost = 1 + payload as u64;
        self.bytes = self.bytes.checked_sub(cost).ok_or_else(|| {
            Error(format!(
                "expands to more than {} bytes (memo references counted as the copies they become)",
                self.limit
            ))
        })?;
        Ok(())
    }
}

/// [`parse`], with a budget of `max_bytes` for the expanded tree.
///
/// # Errors
///
/// As [`parse`]; past the budget, as soon as it is spent.
pub(crate) fn parse_within(input: &[u8], max_bytes: u64) -> Result<Value, Error> {
    let mut m = Machine {
        input,
        proto: 0,
        at: 0,
        nodes: Vec::new(),
        stack: Vec::new(),
        memo: HashMap::new(),
    };
    let root = m.run()?;
    if m.at != input.len() {
        return err("trailing bytes after the STOP opcode");
    }
    let mut budget = Budget {
        nodes: MAX_NODES,
        bytes: max_bytes,
        limit: max_bytes,
    };
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

    /// A global as this pickle's protocol names it (see [`Value::Global2`]).
    fn global(&self, module: String, name: String) -> Value {
        if self.proto < 3 {
            Value::Global2(module, name)
        } else {
            Value::Global(module, name)
        }
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

    /// A text `LONG` (`123L`), of any size.
    fn long_line(&mut self) -> Result<Value, Error> {
        let line = self.text_line()?;
        let digits = line.strip_suffix('L').unwrap_or(&line);
        match digits.parse() {
            Ok(n) => Ok(Value::Int(n)),
            Err(_) => decimal_long(digits).map(long_value),
        }
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
                    self.proto = proto;
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
                    let value = self.long_line()?;
                    self.leaf(value);
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
                    self.leaf(self.global(module, name));
                }
                0x93 => {
                    let name = self.pop()?;
                    let module = self.pop()?;
                    let (module, name) = (self.str_node(module)?, self.str_node(name)?);
                    if module.contains('\n') || name.contains('\n') {
                        return err("a global name holds a line break");
                    }
                    self.leaf(self.global(module, name));
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
    fn expand(&self, id: usize, depth: usize, budget: &mut Budget) -> Result<Value, Error> {
        if depth > MAX_DEPTH {
            return err(format!(
                "nested deeper than {MAX_DEPTH} levels (or refers to itself)"
            ));
        }
        let payload = match &self.nodes[id] {
            Node::Leaf(value) => payload(value),
            _ => 0,
        };
        budget.spend(payload)?;
        let d = depth + 1;
        let one = |id: usize, budget: &mut Budget| self.expand(id, d, budget).map(Box::new);
        let many = |ids: &[usize], budget: &mut Budget| {
            ids.iter()
                .map(|&id| self.expand(id, d, budget))
                .collect::<Result<Vec<_>, _>>()
        };
        let pairs = |pairs: &[(usize, usize)], budget: &mut Budget| {
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
            Node::Reduce(f, args) => builtin(one(*f, budget)?, one(*args, budget)?),
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

/// The bytes a leaf carries besides itself.
fn payload(value: &Value) -> usize {
    match value {
        Value::Str(s) => s.len(),
        Value::Str8(b) | Value::Bytes(b) | Value::ByteArray(b) | Value::Long(b) => b.len(),
        Value::Global(module, name) | Value::Global2(module, name) => module.len() + name.len(),
        _ => 0,
    }
}

/// What Python 3 writes in a protocol 2 pickle for `bytes`, `bytearray`,
/// `set` and `frozenset` (a call of a builtin) read back as those values;
/// any other call stays a [`Value::Reduce`].
fn builtin(callable: Box<Value>, args: Box<Value>) -> Value {
    let name = match &*callable {
        Value::Global2(module, name) if module == "__builtin__" || module == "_codecs" => {
            Some(name.as_str())
        }
        Value::Global(module, name) if module == "builtins" || module == "_codecs" => {
            Some(name.as_str())
        }
        _ => None,
    };
    let latin1 = |s: &str| -> Option<Vec<u8>> {
        s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
    };
    let plain = match (name, &*args) {
        (Some("encode"), Value::Tuple(a)) => match &a[..] {
            [Value::Str(s), Value::Str(enc)] if enc == "latin1" => latin1(s).map(Value::Bytes),
            _ => None,
        },
        (Some("bytes"), Value::Tuple(a)) if a.is_empty() => Some(Value::Bytes(Vec::new())),
        (Some("bytearray"), Value::Tuple(a)) => match &a[..] {
            [] => Some(Value::ByteArray(Vec::new())),
            [Value::Bytes(b)] => Some(Value::ByteArray(b.clone())),
            [Value::Str(s), Value::Str(enc)] if enc == "latin-1" => latin1(s).map(Value::ByteArray),
            _ => None,
        },
        (Some("set"), Value::Tuple(a)) => match &a[..] {
            [Value::List(items)] => Some(Value::Set(items.clone())),
            _ => None,
        },
        (Some("frozenset"), Value::Tuple(a)) => match &a[..] {
            [Value::List(items)] => Some(Value::FrozenSet(items.clone())),
            _ => None,
        },
        _ => None,
    };
    plain.unwrap_or(Value::Reduce(callable, args))
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
