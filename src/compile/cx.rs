//! Compile stage: the compiler's context. It collects every diagnostic (it never stops at the
//! first), knows the names the spec set defines (aliases, tables, lists, field groups,
//! procedures) and the variables in scope, and offers the node-reading helpers the construct
//! compilers share.

use std::collections::HashMap;
use std::sync::Arc;

use crate::value::{Map, Value};

use crate::diag::{Code, Diagnostic, suggest};
use crate::plan::{Field, Origin, Path, Request};
use crate::spec::node::{Kind, Node, Pos};

/// A named piece of spec defined in one file and used from another.
#[derive(Clone)]
pub struct Named<'s> {
    pub file: Arc<str>,
    pub node: &'s Node,
    pub spec_path: String,
}

pub struct Cx<'s> {
    pub diags: Vec<Diagnostic>,
    pub file: Arc<str>,
    pub aliases: HashMap<String, Vec<Path>>,
    pub tables: HashMap<String, Arc<Map>>,
    pub lists: HashMap<String, Arc<[String]>>,
    pub field_groups: HashMap<String, Vec<Field>>,
    pub procedures: HashMap<String, Named<'s>>,
    /// Procedures being inlined, to refuse recursion.
    pub calling: Vec<String>,
    /// Variables in scope: name -> slot.
    pub scope: Vec<(String, usize)>,
    pub slot_names: Vec<String>,
    /// Set when a path or template reads the request metadata.
    pub reads_metadata: bool,
    pub reads_connection: bool,
    /// The parts of the message any expression can read.
    pub message_reads: crate::plan::ReadTree,
    /// The parents of message paths, each once, and their places (see `Path::prefix`).
    pub read_prefixes: Vec<Vec<Box<str>>>,
    pub prefix_places: HashMap<Vec<Box<str>>, u32>,
    /// Each file's text, to place errors inside quoted strings.
    pub texts: HashMap<Arc<str>, Arc<str>>,
    /// Whether the steps being compiled are the destination's own (where `check_type` may
    /// stand).
    pub in_preamble: bool,
    /// The request fields in force for the flow being compiled (destination defaults, then the
    /// flow's), each with the file it is written in.
    pub request_base: Vec<(String, Arc<str>, &'s Node)>,
    /// The compiled request of `request_base`, shared by every `emit` that overrides nothing.
    pub request_cache: Option<Arc<Request>>,
    /// The config keys the destination declares (`config:`); when it declares any, reading
    /// another is a mistake.
    pub config_keys: Option<Vec<String>>,
    /// The destination's named constants, in order.
    pub constants: Vec<(String, Value)>,
    /// Some file of the set did not parse: a name nothing defines may be defined there.
    pub unparsed: bool,
    /// The destination file did not parse: its constants are unknown.
    pub unparsed_destination: bool,
    /// Names used but not defined while a file did not parse: not checked, noted once.
    pub unchecked: Vec<String>,
}

impl<'s> Cx<'s> {
    pub fn new() -> Self {
        Cx {
            diags: Vec::new(),
            file: Arc::from(""),
            aliases: HashMap::new(),
            tables: HashMap::new(),
            lists: HashMap::new(),
            field_groups: HashMap::new(),
            procedures: HashMap::new(),
            calling: Vec::new(),
            scope: Vec::new(),
            slot_names: Vec::new(),
            reads_metadata: false,
            reads_connection: false,
            message_reads: crate::plan::ReadTree::default(),
            read_prefixes: Vec::new(),
            prefix_places: HashMap::new(),
            texts: HashMap::new(),
            in_preamble: false,
            request_base: Vec::new(),
            request_cache: None,
            config_keys: None,
            constants: Vec::new(),
            unparsed: false,
            unparsed_destination: false,
            unchecked: Vec::new(),
        }
    }

    /// Whether an undefined name (`what`: "list `events`") goes unreported because a file
    /// that did not parse may define it; it is then noted as not checked. So one syntax error
    /// does not make every use of the names its file defines an error of its own.
    pub fn unchecked(&mut self, what: String) -> bool {
        if !self.unparsed {
            return false;
        }
        if !self.unchecked.contains(&what) {
            self.unchecked.push(what);
        }
        true
    }

    pub fn origin(&self, node: &Node, path: &str) -> Origin {
        Origin {
            file: self.file.clone(),
            pos: node.pos,
            spec_path: Arc::from(path),
        }
    }

    pub fn err(&mut self, code: Code, node: &Node, path: &str, message: impl Into<String>) {
        self.err_hint(code, node, path, message, None);
    }

    pub fn err_hint(
        &mut self,
        code: Code,
        node: &Node,
        path: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        self.diags.push(Diagnostic {
            code,
            file: self.file.to_string(),
            pos: node.pos,
            spec_path: path.to_owned(),
            message: message.into(),
            hint,
        });
    }

    /// Reports a problem at a byte offset inside a scalar's text (an expression's column).
    pub fn err_at(
        &mut self,
        code: Code,
        node: &Node,
        offset: usize,
        path: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let pos = self.pos_in(node, offset);
        self.diags.push(Diagnostic {
            code,
            file: self.file.to_string(),
            pos,
            spec_path: path.to_owned(),
            message: message.into(),
            hint,
        });
    }

    /// The position of a byte offset into a scalar: its column moved along when the scalar
    /// is on one line (after its opening quote, if quoted).
    fn pos_in(&self, node: &Node, offset: usize) -> Pos {
        let Some(Kind::Str(s)) = Some(&node.kind) else {
            return node.pos;
        };
        if offset == 0 || s.contains('\n') || node.pos.line == 0 {
            return node.pos;
        }
        let line = self
            .texts
            .get(&self.file)
            .and_then(|t| t.lines().nth(node.pos.line as usize - 1));
        let quoted = line
            .and_then(|l| l.chars().nth(node.pos.col.saturating_sub(1) as usize))
            .is_some_and(|c| c == '"' || c == '\'');
        let before = s.get(..offset).map_or(offset, |p| p.chars().count());
        Pos {
            line: node.pos.line,
            col: node.pos.col + before as u32 + u32::from(quoted),
        }
    }

    /// Reports a value of the wrong shape: "expected {expected}, found <what it is>".
    pub fn wrong(&mut self, node: &Node, path: &str, expected: &str) {
        let found = node.describe();
        self.err(
            Code::WrongType,
            node,
            path,
            format!("expected {expected}, found {found}"),
        );
    }

    /// Checks that `node` is a mapping whose keys are all in `allowed`; reports each unknown
    /// key with a suggestion. Returns the entries when it is a mapping.
    pub fn mapping(
        &mut self,
        node: &'s Node,
        path: &str,
        allowed: &[&str],
    ) -> Option<&'s [(Node, Node)]> {
        let Some(entries) = node.as_map() else {
            self.wrong(node, path, "a mapping");
            return None;
        };
        let mut seen: Vec<&str> = Vec::new();
        for (k, _) in entries {
            let Some(key) = k.as_str() else {
                self.wrong(k, path, "a string key");
                continue;
            };
            if seen.contains(&key) {
                self.err(
                    Code::Duplicate,
                    k,
                    &join(path, key),
                    format!("key `{key}` is given twice"),
                );
            }
            seen.push(key);
            if !allowed.contains(&key) {
                let hint = suggest(key, allowed.iter().copied())
                    .or_else(|| Some(format!("expected one of: {}", allowed.join(", "))));
                self.err_hint(
                    Code::UnknownKey,
                    k,
                    &join(path, key),
                    format!("unknown key `{key}`"),
                    hint,
                );
            }
        }
        Some(entries)
    }

    /// The value under `key`, reporting it missing.
    pub fn required(&mut self, node: &'s Node, path: &str, key: &str) -> Option<&'s Node> {
        let v = node.get(key);
        if v.is_none() {
            self.err(Code::MissingKey, node, path, format!("missing key `{key}`"));
        }
        v
    }

    pub fn string(&mut self, node: &Node, path: &str) -> Option<String> {
        match &node.kind {
            Kind::Str(s) => Some(s.clone()),
            _ => {
                self.wrong(node, path, "a string");
                None
            }
        }
    }

    pub fn boolean(&mut self, node: &Node, path: &str) -> Option<bool> {
        match &node.kind {
            Kind::Bool(b) => Some(*b),
            Kind::Str(s)
                if ["y", "yes", "on", "n", "no", "off"]
                    .iter()
                    .any(|b| b.eq_ignore_ascii_case(s)) =>
            {
                self.err_hint(
                    Code::WrongType,
                    node,
                    path,
                    format!("expected true or false, found the text `{s}`"),
                    Some("specs are YAML 1.2: `yes`, `no`, `on`, `off`, `y`, `n` are text; write true or false".into()),
                );
                None
            }
            _ => {
                self.wrong(node, path, "true or false");
                None
            }
        }
    }

    pub fn seq(&mut self, node: &'s Node, path: &str) -> Option<&'s [Node]> {
        match &node.kind {
            Kind::Seq(s) => Some(s),
            _ => {
                self.wrong(node, path, "a list");
                None
            }
        }
    }

    /// Declares a variable (or reuses its slot) and returns the slot.
    pub fn declare(&mut self, name: &str) -> usize {
        if let Some((_, slot)) = self.scope.iter().rev().find(|(n, _)| n == name) {
            return *slot;
        }
        let slot = self.slot_names.len();
        self.slot_names.push(name.to_owned());
        self.scope.push((name.to_owned(), slot));
        slot
    }

    /// Binds a name to a fresh slot (lambda parameters shadow what they name).
    pub fn bind(&mut self, name: &str) -> usize {
        let slot = self.slot_names.len();
        self.slot_names.push(name.to_owned());
        self.scope.push((name.to_owned(), slot));
        slot
    }

    pub fn lookup_var(&self, name: &str) -> Option<usize> {
        self.scope
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, s)| *s)
    }

    /// A list by name, or an inline list of strings (entries `{include: name}` splice a list).
    pub fn string_list(&mut self, node: &'s Node, path: &str) -> Option<Arc<[String]>> {
        if let Some(name) = node.as_str() {
            return match self.lists.get(name).cloned() {
                Some(l) => Some(l),
                None if self.unchecked(format!("list `{name}`")) => None,
                None => {
                    let hint = suggest(name, self.lists.keys().map(String::as_str));
                    self.err_hint(
                        Code::UnknownTable,
                        node,
                        path,
                        format!("unknown list `{name}`"),
                        hint,
                    );
                    None
                }
            };
        }
        let items = self.seq(node, path)?;
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            match &item.kind {
                Kind::Str(s) => out.push(s.clone()),
                Kind::Map(_) => {
                    self.mapping(item, &p, &["include"]);
                    if let Some(inc) = self.required(item, &p, "include")
                        && let Some(l) = self.string_list(inc, &join(&p, "include"))
                    {
                        out.extend(l.iter().cloned());
                    }
                }
                _ => self.wrong(item, &p, "a string"),
            }
        }
        Some(out.into())
    }
}

impl Default for Cx<'_> {
    fn default() -> Self {
        Self::new()
    }
}

/// `parent.key` for spec paths.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}
