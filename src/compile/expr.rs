//! Compile stage: value expressions. In YAML an expression is a string in the compact syntax
//! (`message.traits.email ?? config.fallback`; see `parse.rs`), a list (a list literal), a
//! scalar (itself), or a one-key mapping naming a construct of the registry (`{lowercase:
//! message.event}`, `{coalesce: [a, b]}`, `{rows_to_object: {rows: config.map, lowercase:
//! false}}`), besides four YAML-only forms: `{value: literal}`, `{template: text}`,
//! `{object: {key: value, "...": spread}}` and `{if: c, then: a, else: b}`. Strings starting
//! with `$.` are JSONPath selectors over the message. Texts (`{{ expression }}` holes) are
//! compiled here too.

use std::sync::Arc;

use crate::value::{Str, Value};

use super::cx::{Cx, join};
use super::parse::{self, Arg as PArg, Ast, AstKind, Prop, TextPart as PTextPart};
use crate::diag::{Code, suggest};
use crate::plan::{Arg, Expr, JsonFilter, Path, Root, Text, TextPart, TextSet, Unary};
use crate::registry::{self, ArgKind, Construct, Func};
use crate::spec::node::{Kind, Node};

/// From how many texts a literal list on the right of `in` is made a set.
const TEXT_SET_FROM: usize = 8;

/// The YAML-only expression forms, besides the registry's constructs.
pub const YAML_FORMS: &[&str] = &["value", "template", "object", "if"];

/// Splits `a.b.c` into segments; `None` for empty segments.
pub fn split_path(text: &str) -> Option<Vec<Box<str>>> {
    if text.is_empty() {
        return Some(Vec::new());
    }
    let segs: Vec<Box<str>> = text.split('.').map(Box::from).collect();
    segs.iter().all(|s| !s.is_empty()).then_some(segs)
}

/// Where an expression's text came from, to point into it.
#[derive(Clone, Copy)]
struct Src<'n> {
    node: &'n Node,
    /// Offset of the expression within the node's string (a text's hole).
    base: usize,
}

impl<'s> Cx<'s> {
    /// A path with an explicit root, given as text (`message.type`).
    pub fn path(&mut self, text: &str, node: &Node, path: &str) -> Option<Path> {
        let (head, rest) = text.split_once('.').unwrap_or((text, ""));
        let root = match self.root(head) {
            Some(r) => r,
            None => {
                self.unknown_root(head, text, node, 0, path);
                return None;
            }
        };
        self.rooted(root, rest, text, node, path)
    }

    /// The place of a message path's parent among the plan's read prefixes (see
    /// `Path::prefix`): paths of two to five segments.
    fn prefix_place(&mut self, root: Root, segs: &[Box<str>]) -> Option<u32> {
        if root != Root::Message || segs.len() < 2 || segs.len() > crate::eval::MAX_PREFIX + 1 {
            return None;
        }
        let parent = segs[..segs.len() - 1].to_vec();
        if let Some(&at) = self.prefix_places.get(&parent) {
            return Some(at);
        }
        let at = u32::try_from(self.read_prefixes.len()).ok()?;
        self.read_prefixes.push(parent.clone());
        self.prefix_places.insert(parent, at);
        Some(at)
    }

    /// Records what a path reads of the message (everything below it), for projected parsing.
    fn note_read(&mut self, root: Root, segs: &[Box<str>]) {
        match root {
            Root::Message => self.message_reads.add(segs),
            Root::Integration => self.message_reads.add(&["integrations".into()]),
            _ => {}
        }
    }

    /// A call, with what the function reads of the message on its own noted.
    fn call_expr(&mut self, func: Func, mut args: Vec<Arg>) -> Expr {
        if func == Func::ExternalId {
            self.message_reads
                .add(&["context".into(), "externalId".into()]);
        }
        // `k in [...]` over a long list of texts (reserved words, say): a set, made once.
        if func == Func::In
            && let Some(Arg::Value(Expr::Literal(Value::Array(items)))) = args.get(1)
            && items.len() >= TEXT_SET_FROM
            && let Some(set) = TextSet::of(items)
        {
            args[1] = Arg::Texts(Arc::new(set));
        }
        Expr::Call(func, args)
    }

    fn root(&mut self, head: &str) -> Option<Root> {
        Some(match head {
            "message" => Root::Message,
            "config" => Root::Config,
            "payload" => Root::Payload,
            "metadata" => {
                self.reads_metadata = true;
                Root::Metadata
            }
            "integration" => Root::Integration,
            "destination" => Root::Destination,
            "connection" => {
                self.reads_connection = true;
                Root::Connection
            }
            "consts" => Root::Consts,
            "router" => Root::Router,
            var => Root::Var(self.lookup_var(var)?),
        })
    }

    fn unknown_root(&mut self, var: &str, text: &str, node: &Node, at: usize, path: &str) {
        let names: Vec<String> = registry::ROOTS
            .iter()
            .map(|(s, _)| (*s).to_owned())
            .chain(self.scope.iter().map(|(n, _)| n.clone()))
            .collect();
        let hint = if registry::lookup(var).is_some() {
            Some(format!("`{var}` is a function: call it, `{var}(...)`"))
        } else {
            suggest(var, names.iter().map(String::as_str)).or_else(|| {
                Some(format!(
                    "an expression starts with one of: {}; a variable must be named by an earlier `let`, `fan_out` or lambda",
                    names.join(", ")
                ))
            })
        };
        self.err_at(
            Code::UnknownVariable,
            node,
            at,
            path,
            format!("unknown root or variable `{var}` in `{text}`"),
            hint,
        );
    }

    /// Reports a config key the destination does not declare.
    fn check_config_key(&mut self, key: &str, node: &Node, at: usize, path: &str) {
        let Some(keys) = &self.config_keys else {
            return;
        };
        if keys.iter().any(|k| k == key) {
            return;
        }
        let hint = suggest(key, keys.iter().map(String::as_str))
            .or_else(|| Some("declare it under `config:` in destination.yaml".into()));
        self.err_at(
            Code::UnknownVariable,
            node,
            at,
            path,
            format!("config key `{key}` is not declared in `config:`"),
            hint,
        );
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
            Some(segs) => {
                if root == Root::Config
                    && let Some(first) = segs.first()
                {
                    self.check_config_key(&first.clone(), node, 0, path);
                }
                self.note_read(root, &segs);
                let prefix = self.prefix_place(root, &segs);
                Some(Path {
                    root,
                    whole: rest.into(),
                    segs,
                    prefix,
                })
            }
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
            Kind::Str(s) if s.starts_with("$.") || s.starts_with("$[") || s == "$" => {
                match jsonpath_rust::parser::parse_json_path(s) {
                    Ok(q) => {
                        // A selector reads below its leading member names (`$.a.b[...]`
                        // reads `a.b`); anything else may read anywhere in the message.
                        self.message_reads.add(&jsonpath_prefix(s));
                        Some(match json_filter(s) {
                            Some(f) => Expr::JsonFilter(Arc::new(f)),
                            None => Expr::JsonPath(Arc::new(q)),
                        })
                    }
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
                }
            }
            Kind::Str(s) => self.compact(s, node, 0, path),
            Kind::Seq(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.expr(item, &format!("{path}[{i}]")) {
                        Some(e) => out.push((false, e)),
                        None => ok = false,
                    }
                }
                ok.then_some(Expr::Array(out))
            }
            Kind::Map(entries) => {
                let Some((k, v)) = entries.first() else {
                    return Some(Expr::Literal(Value::Object(crate::value::Map::new())));
                };
                let key = k.scalar_text();
                match key.as_str() {
                    "if" => return self.if_form(node, path),
                    "value" => {
                        self.mapping(node, path, &["value"]);
                        return Some(Expr::Literal(v.to_json()));
                    }
                    "template" => {
                        self.mapping(node, path, &["template"]);
                        let p = join(path, "template");
                        let text = self.text(v, &p)?;
                        return Some(Expr::Call(
                            Func::String,
                            vec![Arg::Value(Expr::Text(Arc::new(text)))],
                        ));
                    }
                    "object" => {
                        self.mapping(node, path, &["object"]);
                        return self.object_form(v, &join(path, "object"));
                    }
                    _ => {}
                }
                if entries.len() > 1 {
                    self.mapping(node, path, &[key.as_str()]);
                }
                let Some(c) = registry::lookup(&key) else {
                    let names = registry::CONSTRUCTS
                        .iter()
                        .map(|c| c.name)
                        .chain(YAML_FORMS.iter().copied());
                    let hint = suggest(&key, names).or_else(|| {
                        Some(
                            "a mapping in an expression names a construct (see docs/spec-reference.md); write a literal object as {object: {...}} or {value: {...}}".into(),
                        )
                    });
                    self.err_hint(
                        Code::UnknownConstruct,
                        k,
                        path,
                        format!("unknown construct `{key}`"),
                        hint,
                    );
                    return None;
                };
                self.yaml_call(c, v, &join(path, &key))
            }
            Kind::Null | Kind::Bool(_) | Kind::Int(_) | Kind::Float(_) => {
                Some(Expr::Literal(node.to_json()))
            }
        }
    }

    fn if_form(&mut self, node: &'s Node, path: &str) -> Option<Expr> {
        self.mapping(node, path, &["if", "then", "else"]);
        let cond = self
            .required(node, path, "if")
            .and_then(|n| self.expr(n, &join(path, "if")));
        let then = self
            .required(node, path, "then")
            .and_then(|n| self.expr(n, &join(path, "then")));
        let otherwise = match node.get("else") {
            Some(n) => Arg::Value(self.expr(n, &join(path, "else"))?),
            None => Arg::Missing,
        };
        Some(Expr::Call(
            Func::If,
            vec![Arg::Value(cond?), Arg::Value(then?), otherwise],
        ))
    }

    fn object_form(&mut self, v: &'s Node, path: &str) -> Option<Expr> {
        let Some(entries) = v.as_map() else {
            self.wrong(v, path, "a mapping");
            return None;
        };
        let mut out = Vec::new();
        let mut ok = true;
        for (ek, ev) in entries {
            let name = ek.scalar_text();
            let p = join(path, &name);
            let key = (!name.starts_with("...")).then_some(name);
            match self.expr(ev, &p) {
                Some(e) => out.push((key, e)),
                None => ok = false,
            }
        }
        ok.then(|| object(out))
    }

    /// `{construct: args}`: a list gives the arguments in order, a mapping by name, anything
    /// else is the one argument.
    fn yaml_call(&mut self, c: &'static Construct, v: &'s Node, path: &str) -> Option<Expr> {
        let mut slots: Vec<Option<(&'s Node, String)>> = vec![None; c.params.len()];
        let mut rest: Vec<(&'s Node, String)> = Vec::new();
        let has_rest = c.params.last().is_some_and(|p| p.rest);
        let fixed = c.params.len() - usize::from(has_rest);
        match &v.kind {
            Kind::Seq(items) if c.params.len() != 1 || has_rest => {
                for (i, item) in items.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    if i < fixed {
                        slots[i] = Some((item, p));
                    } else if has_rest {
                        rest.push((item, p));
                    } else {
                        self.err(
                            Code::WrongType,
                            item,
                            &p,
                            format!("`{}` takes at most {fixed} argument(s)", c.name),
                        );
                        return None;
                    }
                }
            }
            Kind::Map(entries) if !c.params.is_empty() && c.params.len() > 1 => {
                let names: Vec<&str> = c.params.iter().map(|p| p.name).collect();
                self.mapping(v, path, &names);
                for (k, item) in entries {
                    let name = k.scalar_text();
                    if let Some(i) = c.params.iter().position(|p| p.name == name) {
                        let p = join(path, &name);
                        if c.params[i].rest {
                            match item.as_seq() {
                                Some(items) => {
                                    for (j, it) in items.iter().enumerate() {
                                        rest.push((it, format!("{p}[{j}]")));
                                    }
                                }
                                None => rest.push((item, p)),
                            }
                        } else {
                            slots[i] = Some((item, p));
                        }
                    }
                }
            }
            _ if c.params.is_empty() => {}
            _ => {
                if has_rest && fixed == 0 {
                    rest.push((v, path.to_owned()));
                } else {
                    slots[0] = Some((v, path.to_owned()));
                }
            }
        }
        let mut args = Vec::new();
        let mut ok = true;
        for (i, param) in c.params.iter().enumerate() {
            if param.rest {
                if rest.is_empty() {
                    self.err(
                        Code::MissingKey,
                        v,
                        path,
                        format!("`{}` needs at least one `{}`", c.name, param.name),
                    );
                    return None;
                }
                for (n, p) in std::mem::take(&mut rest) {
                    match self.yaml_arg(c, param.kind, n, &p) {
                        Some(a) => args.extend(a),
                        None => ok = false,
                    }
                }
                continue;
            }
            match slots[i].take() {
                Some((n, p)) => match self.yaml_arg(c, param.kind, n, &p) {
                    Some(mut a) => args.push(a.remove(0)),
                    None => ok = false,
                },
                None if param.default.is_some() => args.push(Arg::Missing),
                None => {
                    self.err(
                        Code::MissingKey,
                        v,
                        path,
                        format!("`{}` needs its `{}` argument", c.name, param.name),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| self.finish_call(c, args))
    }

    /// One argument given in YAML: an expression, a lambda (compact text), a regex literal.
    /// Returns several arguments when an alias is spread into a variadic construct.
    fn yaml_arg(
        &mut self,
        c: &'static Construct,
        kind: ArgKind,
        n: &'s Node,
        path: &str,
    ) -> Option<Vec<Arg>> {
        match (kind, &n.kind) {
            (ArgKind::Value, Kind::Str(s)) if s.starts_with('@') && variadic_choice(c.func) => {
                let ast = self.parse_or_report(s, n, 0, path)?;
                if let AstKind::Alias(name) = &ast.kind {
                    return self.alias_paths(name, Src { node: n, base: 0 }, ast.at, path);
                }
                Some(vec![Arg::Value(self.ast(
                    &ast,
                    Src { node: n, base: 0 },
                    path,
                )?)])
            }
            (ArgKind::Value, _) => Some(vec![Arg::Value(self.expr(n, path)?)]),
            (ArgKind::Regex, _) => {
                let text = self.string(n, path)?;
                Some(vec![Arg::Regex(self.regex(&text, n, 0, path)?)])
            }
            (ArgKind::Lambda(arity), _) => {
                let text = self.string(n, path)?;
                let ast = self.parse_or_report(&text, n, 0, path)?;
                Some(vec![self.lambda_arg(
                    c,
                    arity,
                    &ast,
                    Src { node: n, base: 0 },
                    path,
                )?])
            }
        }
    }

    fn regex(
        &mut self,
        text: &str,
        node: &Node,
        at: usize,
        path: &str,
    ) -> Option<Arc<regex::Regex>> {
        match regex::Regex::new(text) {
            Ok(r) => Some(Arc::new(r)),
            Err(e) => {
                self.err_at(
                    Code::BadRegex,
                    node,
                    at,
                    path,
                    format!(
                        "regex does not compile: {}",
                        crate::diag::one_line(&e.to_string())
                    ),
                    None,
                );
                None
            }
        }
    }

    fn parse_or_report(&mut self, text: &str, node: &Node, base: usize, path: &str) -> Option<Ast> {
        match parse::parse(text) {
            Ok(a) => Some(a),
            Err(e) => {
                self.err_at(
                    Code::BadExpression,
                    node,
                    base + e.at,
                    path,
                    format!("bad expression `{text}`: {}", e.message),
                    None,
                );
                None
            }
        }
    }

    /// A string in the compact syntax.
    fn compact(&mut self, text: &str, node: &'s Node, base: usize, path: &str) -> Option<Expr> {
        let ast = self.parse_or_report(text, node, base, path)?;
        self.ast(&ast, Src { node, base }, path)
    }

    fn ast(&mut self, a: &Ast, src: Src<'_>, path: &str) -> Option<Expr> {
        let at = src.base + a.at;
        Some(match &a.kind {
            AstKind::Num(n) => Expr::Literal(number_literal(n)),
            AstKind::Str(s) => Expr::Literal(Value::String(Str::from(s.as_str()))),
            AstKind::Bool(b) => Expr::Literal(Value::Bool(*b)),
            AstKind::Null => Expr::Literal(Value::Null),
            AstKind::Undefined => Expr::Undefined,
            AstKind::Ident(_) | AstKind::Member(..) | AstKind::Index(..) => {
                return self.access(a, src, path);
            }
            AstKind::Alias(name) => {
                self.err_at(
                    Code::BadExpression,
                    src.node,
                    at,
                    path,
                    format!("the alias `@{name}` stands for several paths: choose among them"),
                    Some(format!(
                        "write `@{name} ?? x`, `@{name} || x`, `first_present(@{name})` or `coalesce(@{name})`"
                    )),
                );
                return None;
            }
            AstKind::Call(name, args) => return self.call(name, args, a, src, path),
            AstKind::Unary(op, x) => {
                let x = self.ast(x, src, path)?;
                match *op {
                    "!" => Expr::Call(Func::Not, vec![Arg::Value(x)]),
                    "-" => Expr::Unary(Unary::Neg, Box::new(x)),
                    _ => Expr::Unary(Unary::Plus, Box::new(x)),
                }
            }
            AstKind::Binary(op, l, r) => {
                let c = registry::infix(op)
                    .unwrap_or_else(|| unreachable!("the parser only makes known operators"));
                if variadic_choice(c.func) {
                    let mut operands = Vec::new();
                    flatten_chain(op, a, &mut operands);
                    let mut args = Vec::new();
                    for o in operands {
                        match &o.kind {
                            AstKind::Alias(name) => {
                                args.extend(self.alias_paths(name, src, o.at, path)?)
                            }
                            _ => args.push(Arg::Value(self.ast(o, src, path)?)),
                        }
                    }
                    Expr::Call(c.func, args)
                } else {
                    let (l, r) = (self.ast(l, src, path), self.ast(r, src, path));
                    self.call_expr(c.func, vec![Arg::Value(l?), Arg::Value(r?)])
                }
            }
            AstKind::Ternary(c, t, e) => {
                let (c, t, e) = (
                    self.ast(c, src, path),
                    self.ast(t, src, path),
                    self.ast(e, src, path),
                );
                Expr::Call(
                    Func::If,
                    vec![Arg::Value(c?), Arg::Value(t?), Arg::Value(e?)],
                )
            }
            AstKind::Array(items) => {
                let mut out = Vec::new();
                for (spread, x) in items {
                    out.push((*spread, self.ast(x, src, path)?));
                }
                // A list of literals is one literal, made once (`k in ['a', 'b']`).
                if out
                    .iter()
                    .all(|(spread, x)| !spread && matches!(x, Expr::Literal(_)))
                {
                    let values = out.into_iter().filter_map(|(_, x)| match x {
                        Expr::Literal(v) => Some(v),
                        _ => None,
                    });
                    return Some(Expr::Literal(Value::Array(values.collect())));
                }
                Expr::Array(out)
            }
            AstKind::Object(props) => {
                let mut out = Vec::new();
                for p in props {
                    match p {
                        Prop::Key(_, k, v) => out.push((Some(k.clone()), self.ast(v, src, path)?)),
                        Prop::Spread(v) => out.push((None, self.ast(v, src, path)?)),
                    }
                }
                // An object of literals under its own keys is one literal, made once.
                if out
                    .iter()
                    .all(|(k, x)| k.is_some() && matches!(x, Expr::Literal(_)))
                {
                    let mut m = crate::value::Map::new();
                    for (k, x) in out {
                        if let (Some(k), Expr::Literal(v)) = (k, x) {
                            crate::eval::expr::put(&mut m, Some(&k), Some(v));
                        }
                    }
                    return Some(Expr::Literal(Value::Object(m)));
                }
                object(out)
            }
            AstKind::Lambda(..) => {
                self.err_at(
                    Code::BadExpression,
                    src.node,
                    at,
                    path,
                    "a lambda may only be an argument of a function such as map or filter",
                    None,
                );
                return None;
            }
        })
    }

    /// Paths and member access: a root or variable, then `.name` and `[key]` parts. Static
    /// parts become one path read with `get-value` semantics.
    fn access(&mut self, a: &Ast, src: Src<'_>, path: &str) -> Option<Expr> {
        // Unwind the chain down to its base.
        let mut parts: Vec<&Ast> = Vec::new();
        let mut cur = a;
        while let AstKind::Member(b, _) | AstKind::Index(b, _) = &cur.kind {
            parts.push(cur);
            cur = b;
        }
        parts.reverse();
        let mut i = 0;
        let static_seg = |p: &Ast| -> Option<String> {
            match &p.kind {
                AstKind::Member(_, n) => Some(n.clone()),
                AstKind::Index(_, k) => match &k.kind {
                    AstKind::Str(s) => Some(s.clone()),
                    AstKind::Num(n) if n.bytes().all(|b| b.is_ascii_digit()) => Some(n.clone()),
                    _ => None,
                },
                _ => None,
            }
        };
        let mut segs: Vec<String> = Vec::new();
        let mut base: Expr = match &cur.kind {
            AstKind::Ident(name) if name == "tables" || name == "lists" => {
                let Some(first) = parts.first().and_then(|p| static_seg(p)) else {
                    self.err_at(
                        Code::BadPath,
                        src.node,
                        src.base + cur.at,
                        path,
                        format!("`{name}` is followed by the name of one of the spec's {name}: `{name}.x`"),
                        None,
                    );
                    return None;
                };
                i = 1;
                let value = if name == "tables" {
                    self.tables
                        .get(&first)
                        .map(|t| Value::Object((**t).clone()))
                } else {
                    self.lists.get(&first).map(|l| {
                        Value::Array(
                            l.iter()
                                .map(|s| Value::String(Str::from(s.as_str())))
                                .collect(),
                        )
                    })
                };
                match value {
                    Some(v) => Expr::Literal(v),
                    None if self.unchecked(format!("{} `{first}`", &name[..name.len() - 1])) => {
                        return None;
                    }
                    None => {
                        let known: Vec<String> = if name == "tables" {
                            self.tables.keys().cloned().collect()
                        } else {
                            self.lists.keys().cloned().collect()
                        };
                        let hint = suggest(&first, known.iter().map(String::as_str));
                        self.err_at(
                            Code::UnknownTable,
                            src.node,
                            src.base + parts[0].at + 1,
                            path,
                            format!("unknown {} `{first}`", &name[..name.len() - 1]),
                            hint,
                        );
                        return None;
                    }
                }
            }
            AstKind::Ident(name) => match self.root(name) {
                Some(root) => {
                    while i < parts.len() {
                        match static_seg(parts[i]) {
                            Some(s) => segs.push(s),
                            None => break,
                        }
                        i += 1;
                    }
                    if root == Root::Config
                        && let Some(first) = segs.first()
                    {
                        let at = parts.first().map_or(cur.at, |p| p.at + 1);
                        let key = first.clone();
                        self.check_config_key(&key, src.node, src.base + at, path);
                    }
                    if root == Root::Consts {
                        let at = parts.first().map_or(cur.at, |p| p.at + 1);
                        let name = segs.first().cloned().unwrap_or_default();
                        if !self.constants.iter().any(|(k, _)| *k == name) {
                            if self.unparsed_destination {
                                self.unchecked(format!("constant `{name}`"));
                                return None;
                            }
                            let hint =
                                suggest(&name, self.constants.iter().map(|(k, _)| k.as_str()))
                                    .or_else(|| {
                                        Some(
                                            "declare it under `constants:` in destination.yaml"
                                                .into(),
                                        )
                                    });
                            self.err_at(
                                Code::UnknownVariable,
                                src.node,
                                src.base + at,
                                path,
                                format!("constant `{name}` is not declared in `constants:`"),
                                hint,
                            );
                            return None;
                        }
                    }
                    let whole = segs.join(".");
                    let segs: Vec<Box<str>> = segs.drain(..).map(Box::from).collect();
                    let prefix = self.prefix_place(root, &segs);
                    let p = Path {
                        root,
                        whole: whole.into(),
                        segs,
                        prefix,
                    };
                    self.note_read(root, &p.segs);
                    Expr::Path(p)
                }
                None => {
                    let text = name.clone();
                    self.unknown_root(name, &text, src.node, src.base + cur.at, path);
                    return None;
                }
            },
            _ => self.ast(cur, src, path)?,
        };
        for p in &parts[i..] {
            match static_seg(p) {
                Some(s) => {
                    // Consecutive static parts on a computed base read as one path.
                    match &mut base {
                        Expr::Member(_, whole, segs) => {
                            let mut w = whole.to_string();
                            w.push('.');
                            w.push_str(&s);
                            *whole = w.into();
                            segs.push(s.into());
                        }
                        _ => {
                            base = Expr::Member(Box::new(base), s.clone().into(), vec![s.into()]);
                        }
                    }
                }
                _ => {
                    let AstKind::Index(_, k) = &p.kind else {
                        unreachable!("members are static")
                    };
                    let key = self.ast(k, src, path)?;
                    base = Expr::Index(Box::new(base), Box::new(key));
                }
            }
        }
        Some(base)
    }

    fn alias_paths(&mut self, name: &str, src: Src<'_>, at: usize, path: &str) -> Option<Vec<Arg>> {
        let found: Option<Vec<Arg>> = self.aliases.get(name).map(|paths| {
            paths
                .iter()
                .cloned()
                .map(|p| Arg::Value(Expr::Path(p)))
                .collect()
        });
        match found {
            Some(args) => Some(args),
            None if self.unchecked(format!("alias `@{name}`")) => None,
            None => {
                let hint = suggest(name, self.aliases.keys().map(String::as_str));
                self.err_at(
                    Code::UnknownAlias,
                    src.node,
                    src.base + at,
                    path,
                    format!("unknown alias `@{name}`"),
                    hint,
                );
                None
            }
        }
    }

    fn call(
        &mut self,
        name: &str,
        args: &[PArg],
        a: &Ast,
        src: Src<'_>,
        path: &str,
    ) -> Option<Expr> {
        let at = src.base + a.at;
        let Some(c) = registry::lookup(name) else {
            let hint = suggest(name, registry::CONSTRUCTS.iter().map(|c| c.name))
                .or_else(|| Some("the functions are listed in docs/spec-reference.md".into()));
            self.err_at(
                Code::UnknownConstruct,
                src.node,
                at,
                path,
                format!("unknown function `{name}`"),
                hint,
            );
            return None;
        };
        let has_rest = c.params.last().is_some_and(|p| p.rest);
        let fixed = c.params.len() - usize::from(has_rest);
        let mut slots: Vec<Option<&Ast>> = vec![None; c.params.len()];
        let mut rest: Vec<&Ast> = Vec::new();
        let mut positional = 0;
        for arg in args {
            match &arg.name {
                Some((nat, n)) => match c.params.iter().position(|p| p.name == n && !p.rest) {
                    Some(i) if slots[i].is_none() => slots[i] = Some(&arg.value),
                    Some(_) => {
                        self.err_at(
                            Code::Duplicate,
                            src.node,
                            src.base + nat,
                            path,
                            format!("`{name}`: argument `{n}` is given twice"),
                            None,
                        );
                        return None;
                    }
                    None => {
                        let hint = suggest(n, c.params.iter().map(|p| p.name));
                        self.err_at(
                            Code::UnknownKey,
                            src.node,
                            src.base + nat,
                            path,
                            format!("`{name}` has no argument `{n}`"),
                            hint,
                        );
                        return None;
                    }
                },
                None => {
                    while positional < fixed && slots[positional].is_some() {
                        positional += 1;
                    }
                    if positional < fixed {
                        slots[positional] = Some(&arg.value);
                        positional += 1;
                    } else if has_rest {
                        rest.push(&arg.value);
                    } else {
                        self.err_at(
                            Code::WrongType,
                            src.node,
                            src.base + arg.value.at,
                            path,
                            format!("`{name}` takes at most {fixed} argument(s)"),
                            Some(signature(c)),
                        );
                        return None;
                    }
                }
            }
        }
        let mut out = Vec::new();
        for (i, param) in c.params.iter().enumerate() {
            if param.rest {
                if rest.is_empty() && c.params.len() == 1 {
                    self.err_at(
                        Code::MissingKey,
                        src.node,
                        at,
                        path,
                        format!("`{name}` needs at least one argument"),
                        Some(signature(c)),
                    );
                    return None;
                }
                for r in &rest {
                    match &r.kind {
                        AstKind::Alias(aname) if variadic_choice(c.func) => {
                            out.extend(self.alias_paths(aname, src, r.at, path)?)
                        }
                        _ => out.push(Arg::Value(self.ast(r, src, path)?)),
                    }
                }
                continue;
            }
            let Some(v) = slots[i] else {
                if param.default.is_some() {
                    out.push(Arg::Missing);
                    continue;
                }
                self.err_at(
                    Code::MissingKey,
                    src.node,
                    at,
                    path,
                    format!("`{name}` needs its `{}` argument", param.name),
                    Some(signature(c)),
                );
                return None;
            };
            out.push(match param.kind {
                ArgKind::Value => Arg::Value(self.ast(v, src, path)?),
                ArgKind::Regex => match &v.kind {
                    AstKind::Str(s) => Arg::Regex(self.regex(s, src.node, src.base + v.at, path)?),
                    _ => {
                        self.err_at(
                            Code::WrongType,
                            src.node,
                            src.base + v.at,
                            path,
                            format!(
                                "`{name}`: `{}` is a regular expression, written as a string literal",
                                param.name
                            ),
                            None,
                        );
                        return None;
                    }
                },
                ArgKind::Lambda(arity) => self.lambda_arg(c, arity, v, src, path)?,
            });
        }
        Some(self.finish_call(c, out))
    }

    fn lambda_arg(
        &mut self,
        c: &Construct,
        arity: u8,
        v: &Ast,
        src: Src<'_>,
        path: &str,
    ) -> Option<Arg> {
        let problem = match &v.kind {
            AstKind::Lambda(params, _) if params.len() > usize::from(arity) => Some(format!(
                "`{}` gives its lambda at most {arity} parameter(s)",
                c.name
            )),
            AstKind::Lambda(..) => None,
            _ => Some(format!(
                "`{}` expects a lambda here, such as `x => x.id`",
                c.name
            )),
        };
        if let Some(message) = problem {
            self.err_at(
                Code::WrongType,
                src.node,
                src.base + v.at,
                path,
                message,
                None,
            );
            return None;
        }
        let AstKind::Lambda(params, body) = &v.kind else {
            return None;
        };
        let depth = self.scope.len();
        let slots: Vec<usize> = params.iter().map(|(_, n)| self.bind(n)).collect();
        let body = self.ast(body, src, path);
        self.scope.truncate(depth);
        Some(Arg::Lambda(slots, Box::new(body?)))
    }

    fn finish_call(&mut self, c: &Construct, args: Vec<Arg>) -> Expr {
        self.call_expr(c.func, args)
    }

    /// A text: a string with `{{ expression }}` holes.
    pub fn text(&mut self, node: &Node, path: &str) -> Option<Text> {
        let s = self.string(node, path)?;
        self.text_of(&s, node, path)
    }

    pub fn text_of(&mut self, s: &str, node: &Node, path: &str) -> Option<Text> {
        let parts = match parse::parse_text(s) {
            Ok(p) => p,
            Err(e) => {
                self.err_at(
                    Code::BadTemplate,
                    node,
                    e.at,
                    path,
                    format!("bad text `{s}`: {}", e.message),
                    None,
                );
                return None;
            }
        };
        let mut out = Vec::new();
        let mut ok = true;
        for p in parts {
            match p {
                PTextPart::Lit(l) => out.push(TextPart::Lit(l)),
                PTextPart::Hole(_, ast) => match self.ast(&ast, Src { node, base: 0 }, path) {
                    Some(e) => out.push(TextPart::Hole(e)),
                    None => ok = false,
                },
            }
        }
        ok.then(|| Text {
            parts: out,
            source: Arc::from(s),
        })
    }
}

/// The constructs that take any number of values and stop at the first that decides:
/// aliases spread into them.
fn variadic_choice(f: Func) -> bool {
    matches!(
        f,
        Func::Coalesce | Func::Or | Func::And | Func::FirstPresent
    )
}

/// `a ?? b ?? c` as one list of operands.
fn flatten_chain<'a>(op: &str, a: &'a Ast, out: &mut Vec<&'a Ast>) {
    match &a.kind {
        AstKind::Binary(o, l, r) if *o == op => {
            flatten_chain(op, l, out);
            flatten_chain(op, r, out);
        }
        _ => out.push(a),
    }
}

/// `name(a, b = default, ...)`, for hints.
pub fn signature(c: &Construct) -> String {
    let params: Vec<String> = c
        .params
        .iter()
        .map(|p| match (p.rest, p.default) {
            (true, _) => format!("{}...", p.name),
            (_, Some(d)) => format!("{} = {d}", p.name),
            _ => p.name.to_owned(),
        })
        .collect();
    format!("usage: {}({})", c.name, params.join(", "))
}

/// A number literal of the compact syntax as JSON.
pub fn number_literal(n: &str) -> Value {
    if n.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = n.parse::<i64>()
    {
        return Value::from(i);
    }
    n.parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map_or(Value::Null, Value::Number)
}

/// The leading plain member names of a JSONPath (`$.context.externalId[?(...)]` ->
/// `context`, `externalId`): the part of the message it can read. Empty (all of it) for
/// anything else at the start (`$..x`, `$['a']`, `$.*`).
fn jsonpath_prefix(s: &str) -> Vec<Box<str>> {
    let mut segs = Vec::new();
    let mut rest = &s[1..];
    while let Some((name, after)) = rest.strip_prefix('.').and_then(plain_name) {
        rest = after;
        if !(rest.is_empty() || rest.starts_with(['.', '['])) {
            // `$.a-b`: not a plain name after all.
            break;
        }
        segs.push(name.into());
    }
    segs
}

/// A JSONPath member name after its `.` (letters, digits and `_`, not starting with a
/// digit) and the text after it; `None` when there is none.
fn plain_name(r: &str) -> Option<(&str, &str)> {
    let end = r
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(r.len());
    let name = &r[..end];
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then(|| (name, &r[end..]))
}

/// `$.a.b[?(@.key == 'text')].c.d` (plain names, a quoted text without quotes or escapes
/// inside, spaces around `==` or none) as a [`JsonFilter`]; anything else is left to the
/// JSONPath engine.
fn json_filter(s: &str) -> Option<JsonFilter> {
    fn names(mut rest: &str) -> Option<(Vec<Box<str>>, &str)> {
        let mut out = Vec::new();
        while let Some(r) = rest.strip_prefix('.') {
            let (name, after) = plain_name(r)?;
            out.push(name.into());
            rest = after;
        }
        Some((out, rest))
    }
    let (list, rest) = names(s.strip_prefix('$')?)?;
    let rest = rest.strip_prefix("[?(@")?;
    let (key, rest) = names(rest)?;
    let [key] = <[Box<str>; 1]>::try_from(key).ok()?;
    let rest = rest.trim_start().strip_prefix("==")?.trim_start();
    let quote = rest.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
    let rest = &rest[1..];
    let end = rest.find(quote)?;
    let equals = &rest[..end];
    if equals.contains('\\') {
        return None;
    }
    let rest = rest[end + 1..].trim_start().strip_prefix(")]")?;
    let (then, rest) = names(rest)?;
    (!list.is_empty() && rest.is_empty()).then(|| JsonFilter {
        list,
        key,
        equals: equals.into(),
        then,
    })
}

/// An object literal, knowing whether each of its keys is written once.
fn object(entries: Vec<(Option<String>, Expr)>) -> Expr {
    let mut keys: Vec<&str> = Vec::with_capacity(entries.len());
    for (k, _) in &entries {
        keys.extend(k.as_deref());
    }
    keys.sort_unstable();
    let distinct = keys.len() == entries.len() && keys.windows(2).all(|w| w[0] != w[1]);
    Expr::Object(entries, distinct)
}

#[cfg(test)]
mod tests {
    use super::{json_filter, jsonpath_prefix};
    use crate::json;
    use crate::value::Value;

    #[test]
    fn the_commonest_selector_is_walked_directly_with_the_same_answers() {
        let forms = [
            "$.context.externalId[?(@.type == 'x')].id",
            "$.context.externalId[?(@.type=='x')].id",
            "$.context.externalId[?(@.type == \"x\")]",
            "$.context.externalId[?(@.type == 'x')].id.v",
            "$.list[?(@.k == '')].id",
        ];
        for f in forms {
            assert!(json_filter(f).is_some(), "{f}");
        }
        for other in [
            "$.a[?(@.k == 'x' && @.j == 'y')].id",
            "$.a[?(@.k == 1)].id",
            "$.a[?(@.k != 'x')].id",
            "$.a[?(@.k == 'x\\'y')].id",
            "$..a[?(@.k == 'x')].id",
            "$.a[?(@.k.j == 'x')].id",
            "$.a[0].id",
            "$[?(@.k == 'x')]",
            "$.a[?(@.k == 'x')]['id']",
        ] {
            assert!(json_filter(other).is_none(), "{other}");
        }
        let lists = [
            json!([{"type": "x", "id": 1}, {"type": "x", "id": 2}]),
            json!([{"type": "y", "id": 1}, {"type": "x", "id": null}]),
            json!([{"type": "x"}, {"type": "x", "id": "b", "v": 3}, {"type": "x", "id": {"v": 4}}]),
            json!({"a": {"type": "y", "id": 1}, "b": {"type": "x", "id": 2}}),
            json!([1, "x", null, [{"type": "x", "id": 1}], {"type": ["x"], "id": 1}, {"type": 1, "id": 1}]),
            json!([{"Type": "x", "id": 1}, {"type": "x ", "id": 1}, {"type": "", "id": 5}]),
            json!("x"),
            json!(null),
            json!({}),
            json!([]),
        ];
        for list in lists {
            for message in [
                json!({"context": {"externalId": list.clone()}, "list": list.clone()}),
                json!({"context": [{"externalId": list.clone()}]}),
                json!({"context": {"externalId.x": list.clone()}}),
            ] {
                for f in forms {
                    let q = jsonpath_rust::parser::parse_json_path(f).unwrap();
                    let theirs: Option<Value> = jsonpath_rust::query::js_path_process(&q, &message)
                        .ok()
                        .and_then(|found| found.into_iter().next())
                        .map(|r| r.val.clone());
                    let ours =
                        crate::eval::expr::json_filter(&json_filter(f).unwrap(), &message).cloned();
                    assert_eq!(ours, theirs, "{f} over {message}");
                }
            }
        }
    }

    #[test]
    fn a_selector_reads_below_its_leading_names() {
        let p = |s: &str| {
            jsonpath_prefix(s)
                .iter()
                .map(|b| b.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            p("$.context.externalId[?(@.type == 'x')].id"),
            ["context", "externalId"]
        );
        assert_eq!(p("$.a.b"), ["a", "b"]);
        assert_eq!(p("$..id"), Vec::<String>::new());
        assert_eq!(p("$['a'].b"), Vec::<String>::new());
        assert_eq!(p("$.*"), Vec::<String>::new());
        assert_eq!(p("$"), Vec::<String>::new());
        assert_eq!(p("$.a..b"), ["a"]);
        assert_eq!(p("$.a.b-c"), ["a"]);
    }
}
