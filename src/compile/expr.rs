//! Compile stage: value expressions and conditions. A string is a path (`message.traits.email`,
//! `payload.event`, a variable) or, starting with `$`, a JSONPath selector over the message; a
//! list is "the first present of"; a one-key mapping names a construct (`alias`, `or`, `lookup`,
//! ...). Conditions are one-key mappings too (`eq`, `truthy`, `all`, ...).

use std::sync::Arc;

use serde_json::Value;

use super::cx::{Cx, join};
use crate::diag::{Code, suggest};
use crate::plan::{Cond, Expr, ObjKey, Path, Pred, Root};
use crate::spec::node::{Kind, Node};

const EXPR_KINDS: &[&str] = &[
    "value",
    "alias",
    "first",
    "or",
    "if",
    "lowercase",
    "uppercase",
    "trim",
    "lookup",
    "multimap",
    "list",
    "to_list",
    "copy_keys",
    "omit",
    "object",
    "map",
    "template",
    "values_of",
];

const COND_KINDS: &[&str] = &[
    "eq",
    "ne",
    "truthy",
    "present",
    "defined",
    "not_empty",
    "filled",
    "is",
    "substring_of_any",
    "in",
    "all",
    "any",
    "not",
];

const ROOTS: &[&str] = &["message", "config", "payload", "metadata"];

/// Splits `a.b.c` into segments; `None` for empty segments.
pub fn split_path(text: &str) -> Option<Vec<Box<str>>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let segs: Vec<Box<str>> = text.split('.').map(Box::from).collect();
    segs.iter().all(|s| !s.is_empty()).then_some(segs)
}

impl<'s> Cx<'s> {
    /// A path with an explicit root: `message.`, `config.`, `payload.`, `metadata.` or a
    /// variable in scope.
    pub fn path(&mut self, text: &str, node: &Node, path: &str) -> Option<Path> {
        let (head, rest) = text.split_once('.').unwrap_or((text, ""));
        let root = match head {
            "message" => Root::Message,
            "config" => Root::Config,
            "payload" => Root::Payload,
            "metadata" => {
                self.reads_metadata = true;
                Root::Metadata
            }
            var => match self.lookup_var(var) {
                Some(slot) => Root::Var(slot),
                None => {
                    let names: Vec<String> = ROOTS
                        .iter()
                        .map(|s| (*s).to_owned())
                        .chain(self.scope.iter().map(|(n, _)| n.clone()))
                        .collect();
                    let hint = suggest(var, names.iter().map(String::as_str)).or_else(|| {
                        Some(format!(
                            "a path starts with one of: {}; a variable must be set by an earlier `let`, `fan_out` or `map`",
                            names.join(", ")
                        ))
                    });
                    self.err_hint(
                        Code::UnknownVariable,
                        node,
                        path,
                        format!("unknown root or variable `{var}` in `{text}`"),
                        hint,
                    );
                    return None;
                }
            },
        };
        self.rooted(root, rest, text, node, path)
    }

    /// A path relative to a known root (aliases are relative to the message).
    pub fn rooted(
        &mut self,
        root: Root,
        rest: &str,
        text: &str,
        node: &Node,
        path: &str,
    ) -> Option<Path> {
        match split_path(rest) {
            Some(segs) => Some(Path {
                root,
                whole: rest.into(),
                segs,
            }),
            None => {
                self.err(
                    Code::BadPath,
                    node,
                    path,
                    format!("path `{text}` has an empty segment"),
                );
                None
            }
        }
    }

    pub fn expr(&mut self, node: &'s Node, path: &str) -> Option<Expr> {
        match &node.kind {
            Kind::Str(s) if s.starts_with('$') => match jsonpath_rust::parser::parse_json_path(s) {
                Ok(q) => Some(Expr::JsonPath(Arc::new(q))),
                Err(e) => {
                    self.err(
                        Code::BadJsonPath,
                        node,
                        path,
                        format!(
                            "JSONPath `{s}` does not compile: {}",
                            crate::diag::one_line(&e.to_string())
                        ),
                    );
                    None
                }
            },
            Kind::Str(s) => self.path(s, node, path).map(Expr::Path),
            Kind::Seq(items) => {
                let parts = self.exprs(items, path)?;
                Some(Expr::FirstPresent(parts))
            }
            Kind::Map(entries) => {
                let Some((k, v)) = entries.first() else {
                    self.err(
                        Code::WrongType,
                        node,
                        path,
                        "an empty mapping is not an expression",
                    );
                    return None;
                };
                let key = k.as_str().unwrap_or_default();
                if key == "if" {
                    return self.if_expr(node, path);
                }
                if key == "first" {
                    self.mapping(node, path, &["first"]);
                    return self.first_expr(v, &join(path, "first"));
                }
                if entries.len() > 1 {
                    self.mapping(node, path, &[key]);
                }
                self.construct(key, k, v, &join(path, key))
            }
            Kind::Null | Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) => {
                Some(Expr::Literal(node.to_json()))
            }
        }
    }

    fn exprs(&mut self, items: &'s [Node], path: &str) -> Option<Vec<Expr>> {
        let mut out = Vec::new();
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.expr(item, &format!("{path}[{i}]")) {
                Some(e) => out.push(e),
                None => ok = false,
            }
        }
        ok.then_some(out)
    }

    fn boxed(&mut self, node: &'s Node, path: &str) -> Option<Box<Expr>> {
        self.expr(node, path).map(Box::new)
    }

    fn construct(&mut self, key: &str, k: &Node, v: &'s Node, path: &str) -> Option<Expr> {
        match key {
            "value" => Some(Expr::Literal(v.to_json())),
            "alias" => {
                let name = self.string(v, path)?;
                match self.aliases.get(&name) {
                    Some(paths) => Some(Expr::FirstPresent(
                        paths.iter().cloned().map(Expr::Path).collect(),
                    )),
                    None => {
                        let hint = suggest(&name, self.aliases.keys().map(String::as_str));
                        self.err_hint(
                            Code::UnknownAlias,
                            v,
                            path,
                            format!("unknown alias `{name}`"),
                            hint,
                        );
                        None
                    }
                }
            }
            "or" => {
                let items = self.seq(v, path)?;
                self.exprs(items, path).map(Expr::Or)
            }
            "lowercase" => self.boxed(v, path).map(Expr::Lowercase),
            "uppercase" => self.boxed(v, path).map(Expr::Uppercase),
            "trim" => self.boxed(v, path).map(Expr::Trim),
            "list" => {
                let items = self.seq(v, path)?;
                self.exprs(items, path).map(Expr::List)
            }
            "to_list" => self.boxed(v, path).map(Expr::ToList),
            "template" => self.msg(v, path).map(Expr::Template),
            "values_of" => {
                let table = self.table(v, path)?;
                Some(Expr::Literal(Value::Array(
                    table.values().cloned().collect(),
                )))
            }
            "lookup" => {
                self.mapping(v, path, &["table", "key"]);
                let t = self.required(v, path, "table");
                let key = self.required(v, path, "key");
                let table = t.and_then(|t| self.table(t, &join(path, "table")));
                let key = key.and_then(|k| self.boxed(k, &join(path, "key")));
                Some(Expr::Lookup {
                    table: table?,
                    key: key?,
                })
            }
            "multimap" => {
                self.mapping(v, path, &["rows", "key", "from", "to", "trim", "lowercase"]);
                let rows = self
                    .required(v, path, "rows")
                    .and_then(|n| self.boxed(n, &join(path, "rows")));
                let key = self
                    .required(v, path, "key")
                    .and_then(|n| self.boxed(n, &join(path, "key")));
                let from = self
                    .required(v, path, "from")
                    .and_then(|n| self.string(n, &join(path, "from")));
                let to = self
                    .required(v, path, "to")
                    .and_then(|n| self.string(n, &join(path, "to")));
                let trim = v
                    .get("trim")
                    .map_or(Some(false), |n| self.boolean(n, &join(path, "trim")));
                let lowercase = v
                    .get("lowercase")
                    .map_or(Some(false), |n| self.boolean(n, &join(path, "lowercase")));
                Some(Expr::MultiMap {
                    rows: rows?,
                    key: key?,
                    from: from?,
                    to: to?,
                    trim: trim?,
                    lowercase: lowercase?,
                })
            }
            "copy_keys" => {
                self.mapping(v, path, &["from", "except"]);
                let from = self.required(v, path, "from").and_then(|n| {
                    let p = join(path, "from");
                    let items = self.seq(n, &p)?;
                    self.exprs(items, &p)
                });
                let except = match v.get("except") {
                    Some(n) => self.string_list(n, &join(path, "except")),
                    None => Some(Arc::from(Vec::new())),
                };
                Some(Expr::CopyKeys {
                    from: from?,
                    except: except?,
                })
            }
            "omit" => {
                self.mapping(v, path, &["from", "keys"]);
                let from = self
                    .required(v, path, "from")
                    .and_then(|n| self.boxed(n, &join(path, "from")));
                let keys = self
                    .required(v, path, "keys")
                    .and_then(|n| self.string_list(n, &join(path, "keys")));
                Some(Expr::Omit {
                    from: from?,
                    keys: keys?,
                })
            }
            "object" => {
                let entries = v.as_map().unwrap_or_default();
                if v.as_map().is_none() {
                    self.wrong(v, path, "a mapping");
                    return None;
                }
                let mut out = Vec::new();
                let mut ok = true;
                for (ek, ev) in entries {
                    let name = ek.scalar_text();
                    let p = join(path, &name);
                    let key = if name == "..." {
                        ObjKey::Spread
                    } else {
                        ObjKey::Key(name)
                    };
                    match self.expr(ev, &p) {
                        Some(e) => out.push((key, e)),
                        None => ok = false,
                    }
                }
                ok.then_some(Expr::Object(out))
            }
            "map" => {
                self.mapping(v, path, &["over", "as", "to"]);
                let over = self
                    .required(v, path, "over")
                    .and_then(|n| self.boxed(n, &join(path, "over")));
                let name = self
                    .required(v, path, "as")
                    .and_then(|n| self.string(n, &join(path, "as")));
                let name = name?;
                let depth = self.scope.len();
                let slot = self.declare(&name);
                let to = self
                    .required(v, path, "to")
                    .and_then(|n| self.boxed(n, &join(path, "to")));
                self.scope.truncate(depth);
                Some(Expr::Map {
                    over: over?,
                    slot,
                    to: to?,
                })
            }
            other => {
                let hint = suggest(other, EXPR_KINDS.iter().copied())
                    .or_else(|| Some(format!("expressions: {}", EXPR_KINDS.join(", "))));
                self.err_hint(
                    Code::UnknownConstruct,
                    k,
                    path,
                    format!("unknown expression `{other}`"),
                    hint,
                );
                None
            }
        }
    }

    fn if_expr(&mut self, node: &'s Node, path: &str) -> Option<Expr> {
        self.mapping(node, path, &["if", "then", "else"]);
        let cond = self
            .required(node, path, "if")
            .and_then(|n| self.cond(n, &join(path, "if")));
        let then = self
            .required(node, path, "then")
            .and_then(|n| self.boxed(n, &join(path, "then")));
        let otherwise = match node.get("else") {
            Some(n) => Some(self.boxed(n, &join(path, "else"))?),
            None => None,
        };
        Some(Expr::If {
            cond: Box::new(cond?),
            then: then?,
            otherwise,
        })
    }

    fn first_expr(&mut self, v: &'s Node, path: &str) -> Option<Expr> {
        self.mapping(v, path, &["of", "where"]);
        let of = self.required(v, path, "of").and_then(|n| {
            let p = join(path, "of");
            let items = self.seq(n, &p)?;
            self.exprs(items, &p)
        });
        let pred = match v.get("where") {
            Some(n) => self.pred(n, &join(path, "where")),
            None => Some(Pred::Present),
        };
        Some(Expr::First {
            of: of?,
            pred: pred?,
        })
    }

    fn pred(&mut self, node: &Node, path: &str) -> Option<Pred> {
        let name = self.string(node, path)?;
        match pred_named(&name) {
            Some(p) => Some(p),
            None => {
                let names = ["present", "defined", "truthy", "not_empty", "filled"];
                let hint = suggest(&name, names)
                    .or_else(|| Some(format!("predicates: {}", names.join(", "))));
                self.err_hint(
                    Code::UnknownConstruct,
                    node,
                    path,
                    format!("unknown predicate `{name}`"),
                    hint,
                );
                None
            }
        }
    }

    fn table(&mut self, node: &Node, path: &str) -> Option<Arc<serde_json::Map<String, Value>>> {
        let name = self.string(node, path)?;
        match self.tables.get(&name) {
            Some(t) => Some(t.clone()),
            None => {
                let hint = suggest(&name, self.tables.keys().map(String::as_str));
                self.err_hint(
                    Code::UnknownTable,
                    node,
                    path,
                    format!("unknown table `{name}`"),
                    hint,
                );
                None
            }
        }
    }

    fn pair(&mut self, node: &'s Node, path: &str) -> Option<(Expr, Expr)> {
        let items = self.seq(node, path)?;
        if items.len() != 2 {
            self.err(
                Code::WrongType,
                node,
                path,
                format!("expected a list of two, found {} items", items.len()),
            );
            return None;
        }
        let a = self.expr(&items[0], &format!("{path}[0]"));
        let b = self.expr(&items[1], &format!("{path}[1]"));
        Some((a?, b?))
    }

    pub fn cond(&mut self, node: &'s Node, path: &str) -> Option<Cond> {
        let Some(entries) = node.as_map() else {
            self.wrong(node, path, "a condition (a one-key mapping)");
            return None;
        };
        let Some((k, v)) = entries.first() else {
            self.err(
                Code::WrongType,
                node,
                path,
                "an empty mapping is not a condition",
            );
            return None;
        };
        let key = k.as_str().unwrap_or_default();
        if entries.len() > 1 {
            self.mapping(node, path, &[key]);
        }
        let p = join(path, key);
        match key {
            "eq" => self.pair(v, &p).map(|(a, b)| Cond::Eq(a, b)),
            "ne" => self.pair(v, &p).map(|(a, b)| Cond::Ne(a, b)),
            "substring_of_any" => self.pair(v, &p).map(|(a, b)| Cond::SubstringOfAny(a, b)),
            "in" => self.pair(v, &p).map(|(a, b)| Cond::In(a, b)),
            "is" => {
                let items = self.seq(v, &p)?;
                if items.len() != 2 {
                    self.err(Code::WrongType, v, &p, "expected [value, type]");
                    return None;
                }
                let e = self.expr(&items[0], &format!("{p}[0]"));
                let t = self.string(&items[1], &format!("{p}[1]"))?;
                let types = [
                    "string",
                    "number",
                    "boolean",
                    "object",
                    "array",
                    "null",
                    "undefined",
                ];
                if !types.contains(&t.as_str()) {
                    let hint =
                        suggest(&t, types).or_else(|| Some(format!("types: {}", types.join(", "))));
                    self.err_hint(
                        Code::UnknownConstruct,
                        &items[1],
                        &format!("{p}[1]"),
                        format!("unknown type `{t}`"),
                        hint,
                    );
                    return None;
                }
                Some(Cond::IsType(e?, t))
            }
            "all" | "any" => {
                let items = self.seq(v, &p)?;
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.cond(item, &format!("{p}[{i}]")) {
                        Some(c) => out.push(c),
                        None => ok = false,
                    }
                }
                ok.then(|| {
                    if key == "all" {
                        Cond::All(out)
                    } else {
                        Cond::Any(out)
                    }
                })
            }
            "not" => self.cond(v, &p).map(|c| Cond::Not(Box::new(c))),
            name => match pred_named(name) {
                Some(pred) => self.expr(v, &p).map(|e| Cond::Test(pred, e)),
                None => {
                    let hint = suggest(name, COND_KINDS.iter().copied())
                        .or_else(|| Some(format!("conditions: {}", COND_KINDS.join(", "))));
                    self.err_hint(
                        Code::UnknownConstruct,
                        k,
                        &p,
                        format!("unknown condition `{name}`"),
                        hint,
                    );
                    None
                }
            },
        }
    }
}

fn pred_named(name: &str) -> Option<Pred> {
    Some(match name {
        "present" => Pred::Present,
        "defined" => Pred::Defined,
        "truthy" => Pred::Truthy,
        "not_empty" => Pred::NotEmpty,
        "filled" => Pred::Filled,
        _ => return None,
    })
}
