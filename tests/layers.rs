//! The crate's layers, checked from its source: no two files import each
//! other (directly or round a circle), no two top-level modules do, and no
//! module imports one above it (`docs/architecture.md` draws the layers).
//! The plugin ABI crate is held to the same rule for its files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The layers, lowest first; a module imports only from layers below its own.
const LAYERS: &[&[&str]] = &[
    &["problem", "throttle", "metrics", "cookie", "id", "codec"],
    &["store"],
    &["compat", "plugin"],
    &["session"],
    &["factory"],
    &["config", "http"],
    &["cli"],
];

type Module = Vec<String>;

/// Every module file under `src`, by its module path (`session/state.rs` is
/// `["session", "state"]`, `lib.rs` is `[]`). Unit-test files are left out.
fn modules(src: &Path) -> BTreeMap<Module, PathBuf> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "tests" {
                    dirs.push(path);
                }
                continue;
            }
            let Some(stem) = name.strip_suffix(".rs") else {
                continue;
            };
            if stem == "tests" {
                continue;
            }
            let rel = path.parent().unwrap().strip_prefix(src).unwrap();
            let mut module: Module = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect();
            if !matches!(stem, "mod" | "lib" | "main") {
                module.push(stem.to_owned());
            }
            found.insert(module, path);
        }
    }
    found
}

/// `text` without comments, string and character literals (a URL in a
/// string is not a path), and without its `#[cfg(test)]` items.
fn code_only(text: &str) -> String {
    let (bytes, mut out, mut i) = (text.as_bytes(), String::with_capacity(text.len()), 0);
    while i < bytes.len() {
        let rest = &text[i..];
        if rest.starts_with("//") {
            i += rest.find('\n').unwrap_or(rest.len());
        } else if rest.starts_with("/*") {
            i += rest.find("*/").map_or(rest.len(), |end| end + 2);
        } else if let Some(raw) = rest.strip_prefix("r#\"") {
            i += raw.find("\"#").map_or(rest.len(), |end| end + 5);
        } else if bytes[i] == b'"' {
            let mut j = i + 1;
            while j < bytes.len() && bytes[j] != b'"' {
                j += if bytes[j] == b'\\' { 2 } else { 1 };
            }
            out.push_str("\"\"");
            i = j + 1;
        } else if let Some(len) = char_literal(rest) {
            out.push_str("' '");
            i += len;
        } else {
            let c = rest.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    without_test_items(&out)
}

/// The length of the character literal `rest` starts with, if it does (a
/// lifetime such as `'a` is not one).
fn char_literal(rest: &str) -> Option<usize> {
    let mut chars = rest.char_indices();
    if chars.next()?.1 != '\'' {
        return None;
    }
    let (_, c) = chars.next()?;
    if c == '\\' {
        return rest[2..].find('\'').map(|end| end + 3);
    }
    let (at, close) = chars.next()?;
    (close == '\'').then_some(at + 1)
}

/// `code` without the items marked `#[cfg(test)]` (up to the item's closing
/// brace, or its semicolon for `mod tests;`).
fn without_test_items(code: &str) -> String {
    const MARK: &str = "#[cfg(test)]";
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find(MARK) {
        out.push_str(&rest[..at]);
        let item = &rest[at + MARK.len()..];
        let mut depth = 0usize;
        let mut end = item.len();
        for (i, b) in item.bytes().enumerate() {
            match b {
                b'{' => depth += 1,
                b'}' if depth == 1 => {
                    end = i + 1;
                    break;
                }
                b'}' => depth = depth.saturating_sub(1),
                b';' if depth == 0 => {
                    end = i + 1;
                    break;
                }
                _ => {}
            }
        }
        rest = &item[end..];
    }
    out.push_str(rest);
    out
}

/// The paths a file names that start with `crate`, `super` or `self`, with
/// `use` trees (`use crate::a::{b, c::d}`) expanded.
fn paths(code: &str) -> Vec<Vec<String>> {
    let tokens = tokenize(code);
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "use" {
            let mut j = i + 1;
            let mut prefixes = Vec::new();
            expand(&tokens, &mut j, Vec::new(), &mut prefixes);
            out.extend(prefixes);
            i = j;
        } else if matches!(tokens[i].as_str(), "crate" | "super" | "self")
            && tokens.get(i + 1).map(String::as_str) == Some("::")
        {
            let mut path = vec![tokens[i].clone()];
            let mut j = i + 1;
            while tokens.get(j).map(String::as_str) == Some("::")
                && tokens.get(j + 1).is_some_and(|t| is_ident(t))
            {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            out.push(path);
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn is_ident(token: &str) -> bool {
    token
        .chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_')
}

fn tokenize(code: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = code.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            let mut end = i + c.len_utf8();
            while let Some(&(j, d)) = chars.peek() {
                if !(d.is_alphanumeric() || d == '_') {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            tokens.push(code[i..end].to_owned());
        } else if c == ':' && chars.peek().map(|&(_, d)| d) == Some(':') {
            chars.next();
            tokens.push("::".to_owned());
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
        }
    }
    tokens
}

/// Expands one `use` tree starting at `tokens[*at]` under `prefix`.
fn expand(tokens: &[String], at: &mut usize, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    let mut path = prefix;
    loop {
        let Some(token) = tokens.get(*at) else { return };
        match token.as_str() {
            "{" => {
                *at += 1;
                loop {
                    // An empty group, or the end after a trailing comma.
                    if tokens.get(*at).map(String::as_str) == Some("}") {
                        *at += 1;
                        return;
                    }
                    expand(tokens, at, path.clone(), out);
                    match tokens.get(*at).map(String::as_str) {
                        Some(",") => *at += 1,
                        Some("}") => {
                            *at += 1;
                            return;
                        }
                        _ => return,
                    }
                }
            }
            "::" => *at += 1,
            "as" => *at += 2,
            ";" | "," | "}" => {
                if !path.is_empty() {
                    out.push(path);
                }
                if token == ";" {
                    *at += 1;
                }
                return;
            }
            "*" => *at += 1,
            name if is_ident(name) => {
                path.push(name.to_owned());
                *at += 1;
            }
            _ => return,
        }
    }
}

/// The module file a path from `here` (the module of `file`) names.
fn resolve(modules: &BTreeMap<Module, PathBuf>, here: &Module, path: &[String]) -> Option<Module> {
    let mut base: Module = match path.first().map(String::as_str) {
        Some("crate") => Vec::new(),
        Some("self") => here.clone(),
        Some("super") => here[..here.len().saturating_sub(1)].to_vec(),
        _ => return None,
    };
    for part in &path[1..] {
        match part.as_str() {
            "super" => {
                base.pop();
            }
            "self" => {}
            name => base.push(name.to_owned()),
        }
    }
    while !base.is_empty() {
        if modules.contains_key(&base) {
            return Some(base);
        }
        base.pop();
    }
    None
}

/// Edges between module files: a file's use of its own ancestors (`super`
/// from a child) is not an edge.
fn graph(
    src: &Path,
) -> (
    BTreeMap<Module, PathBuf>,
    BTreeMap<Module, BTreeSet<Module>>,
) {
    let modules = modules(src);
    let mut edges: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
    for (module, file) in &modules {
        let code = code_only(&std::fs::read_to_string(file).unwrap());
        let set = edges.entry(module.clone()).or_default();
        for path in paths(&code) {
            if let Some(target) = resolve(&modules, module, &path)
                && &target != module
                && !module.starts_with(&target)
            {
                set.insert(target);
            }
        }
    }
    (modules, edges)
}

/// The strongly connected groups of more than one node (Tarjan).
fn circles<N: Ord + Clone>(edges: &BTreeMap<N, BTreeSet<N>>) -> Vec<Vec<N>> {
    struct Walk<'g, N> {
        edges: &'g BTreeMap<N, BTreeSet<N>>,
        index: BTreeMap<N, usize>,
        low: BTreeMap<N, usize>,
        stack: Vec<N>,
        out: Vec<Vec<N>>,
    }
    impl<N: Ord + Clone> Walk<'_, N> {
        fn visit(&mut self, v: &N) {
            let n = self.index.len();
            self.index.insert(v.clone(), n);
            self.low.insert(v.clone(), n);
            self.stack.push(v.clone());
            for w in self.edges.get(v).into_iter().flatten() {
                if !self.index.contains_key(w) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w]);
                    self.low.insert(v.clone(), low);
                } else if self.stack.contains(w) {
                    let low = self.low[v].min(self.index[w]);
                    self.low.insert(v.clone(), low);
                }
            }
            if self.low[v] == self.index[v] {
                let mut group = Vec::new();
                while let Some(w) = self.stack.pop() {
                    let done = &w == v;
                    group.push(w);
                    if done {
                        break;
                    }
                }
                if group.len() > 1 {
                    self.out.push(group);
                }
            }
        }
    }
    let mut walk = Walk {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !walk.index.contains_key(v) {
            walk.visit(v);
        }
    }
    walk.out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `path` from the repository's root, when it is under it.
fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn file_circles(src: &Path) -> Vec<String> {
    let (modules, edges) = graph(src);
    circles(&edges)
        .into_iter()
        .map(|group| {
            group
                .iter()
                .map(|m| shown(&modules[m]))
                .collect::<Vec<_>>()
                .join(" → ")
        })
        .collect()
}

#[test]
fn no_two_files_import_each_other() {
    for src in ["src", "redis-sessions-plugin/src"] {
        let found = file_circles(&root().join(src));
        assert!(found.is_empty(), "import circles in {src}: {found:#?}");
    }
}

#[test]
fn each_module_imports_only_from_layers_below_it() {
    let layer_of = |name: &str| {
        LAYERS
            .iter()
            .position(|layer| layer.contains(&name))
            .unwrap_or_else(|| panic!("module `{name}` is in no layer of tests/layers.rs"))
    };
    let (modules, edges) = graph(&root().join("src"));
    let mut upward = Vec::new();
    let mut top: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, targets) in &edges {
        let Some(a) = from.first() else { continue };
        for to in targets {
            let Some(b) = to.first() else { continue };
            if a == b {
                continue;
            }
            top.entry(a.clone()).or_default().insert(b.clone());
            if layer_of(a) <= layer_of(b) {
                upward.push(format!(
                    "{} imports {} ({a} is not above {b})",
                    shown(&modules[from]),
                    shown(&modules[to]),
                ));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that go up or sideways: {upward:#?}"
    );
    assert!(
        circles(&top).is_empty(),
        "circles between modules: {:?}",
        circles(&top)
    );
}

#[test]
fn the_check_finds_a_circle_and_an_upward_import() {
    // The check itself, on a crate made for it: a → b → a, and store → session.
    let dir = std::env::temp_dir().join(format!("rs-layers-{}", std::process::id()));
    let src = dir.join("src");
    std::fs::create_dir_all(src.join("store")).unwrap();
    std::fs::write(
        src.join("lib.rs"),
        "mod a; mod b; mod session; mod store;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("a.rs"),
        "use crate::b::{self, X};\n// use crate::nothing;\n",
    )
    .unwrap();
    std::fs::write(
        src.join("b.rs"),
        "pub fn f() { super::a::g(\"crate::store\") }\n",
    )
    .unwrap();
    std::fs::write(src.join("session.rs"), "pub struct S;\n").unwrap();
    std::fs::write(src.join("store/mod.rs"), "use crate::{session::S, a};\n").unwrap();
    let found = file_circles(&src);
    let (_, edges) = graph(&src);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].contains("a.rs") && found[0].contains("b.rs"),
        "{found:?}"
    );
    let store = edges[&vec!["store".to_owned()]].clone();
    assert!(store.contains(&vec!["session".to_owned()]), "{store:?}");
    assert!(!edges[&vec!["b".to_owned()]].contains(&vec!["store".to_owned()]));
}
