//! Compile stage: steps and the operations inside them (the registry's `OPS`: `build`, `set`,
//! `default`, `let`, `if`, `require`, `fail`, `switch`, `fan_out`, `emit`, `return`, `call`,
//! `check_type`). Procedures are inlined at their call sites, in the caller's scope; a
//! procedure that reaches itself is refused.

use super::cx::{Cx, join};
use crate::diag::{Code, suggest};
use crate::eval::js::split_set_path;
use crate::plan::{Body, Clean, Field, Op, Path, Root, Step, Target};
use crate::registry::{ERROR_TYPES, OPS};
use crate::spec::node::Node;

fn op_names() -> impl Iterator<Item = &'static str> {
    OPS.iter().map(|o| o.name)
}

impl<'s> Cx<'s> {
    pub fn steps(&mut self, node: &'s Node, path: &str) -> Vec<Step> {
        let Some(items) = self.seq(node, path) else {
            return Vec::new();
        };
        let mut out: Vec<Step> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let p = format!("{path}[{i}]");
            self.mapping(item, &p, &["name", "description", "when", "do", "steps"]);
            let name = self
                .required(item, &p, "name")
                .and_then(|n| self.string(n, &join(&p, "name")));
            if let Some(n) = &name
                && out.iter().any(|s| &s.name == n)
            {
                self.err(
                    Code::Duplicate,
                    item,
                    &p,
                    format!("step `{n}` is defined twice here"),
                );
            }
            let when = item
                .get("when")
                .and_then(|n| self.expr(n, &join(&p, "when")));
            let body = match (item.get("do"), item.get("steps")) {
                (Some(d), None) => Body::Ops(self.ops(d, &join(&p, "do"))),
                (None, Some(s)) => Body::Children(self.steps(s, &join(&p, "steps"))),
                _ => {
                    self.err(
                        Code::MissingKey,
                        item,
                        &p,
                        "a step has exactly one of `do` (operations) or `steps` (child steps)",
                    );
                    Body::Ops(Vec::new())
                }
            };
            if let Some(name) = name {
                out.push(Step {
                    name,
                    when,
                    body,
                    origin: self.origin(item, &p),
                });
            }
        }
        out
    }

    pub fn ops(&mut self, node: &'s Node, path: &str) -> Vec<Op> {
        let Some(items) = self.seq(node, path) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            self.op(item, &format!("{path}[{i}]"), &mut out);
        }
        out
    }

    fn op(&mut self, node: &'s Node, path: &str, out: &mut Vec<Op>) {
        let Some(entries) = node.as_map() else {
            self.wrong(node, path, "an operation (a mapping)");
            return;
        };
        let Some(kind) = entries
            .iter()
            .filter_map(|(k, _)| k.as_str())
            .find(|k| op_names().any(|o| o == *k))
        else {
            let first = entries
                .first()
                .map(|(k, _)| k.scalar_text())
                .unwrap_or_default();
            let hint = suggest(&first, op_names()).or_else(|| {
                Some(format!(
                    "operations: {}",
                    op_names().collect::<Vec<_>>().join(", ")
                ))
            });
            self.err_hint(
                Code::UnknownConstruct,
                node,
                path,
                format!("no operation in this mapping (found `{first}`)"),
                hint,
            );
            return;
        };
        let v = node.get(kind).unwrap_or(node);
        let p = join(path, kind);
        match kind {
            "build" => {
                self.mapping(node, path, &["build"]);
                let Some(parts) = self.seq(v, &p) else { return };
                let mut built = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    let pp = format!("{p}[{i}]");
                    self.mapping(part, &pp, &["fields"]);
                    if let Some(f) = self.required(part, &pp, "fields") {
                        built.push(self.field_group(f, &join(&pp, "fields")));
                    }
                }
                out.push(Op::Build(built));
            }
            "set" => {
                self.mapping(node, path, &["set"]);
                out.push(Op::Set(self.fields(v, &p)));
            }
            "default" => {
                self.mapping(node, path, &["default"]);
                let fields = self.fields(v, &p);
                let pairs = fields
                    .into_iter()
                    .filter(|f| matches!(f.target, Target::Path(_)))
                    .filter_map(|f| {
                        let at =
                            self.rooted(Root::Payload, &f.target_text, &f.target_text, node, &p)?;
                        Some((at, f))
                    })
                    .collect::<Vec<(Path, Field)>>();
                out.push(Op::Default(pairs));
            }
            "let" => {
                self.mapping(node, path, &["let"]);
                let Some(entries) = v.as_map() else {
                    self.wrong(v, &p, "a mapping of name -> value");
                    return;
                };
                for (k, ev) in entries {
                    let Some(name) = self.string(k, &p) else {
                        continue;
                    };
                    let value = self.expr(ev, &join(&p, &name));
                    let slot = self.declare(&name);
                    if let Some(value) = value {
                        out.push(Op::Let {
                            slot,
                            value,
                            memo: None,
                            event_only: false,
                        });
                    }
                }
            }
            "if" => {
                self.mapping(node, path, &["if", "then", "else"]);
                let cond = self.expr(v, &p);
                let then = self
                    .required(node, path, "then")
                    .map(|n| self.ops(n, &join(path, "then")));
                let otherwise = node
                    .get("else")
                    .map(|n| self.ops(n, &join(path, "else")))
                    .unwrap_or_default();
                if let (Some(cond), Some(then)) = (cond, then) {
                    out.push(Op::If {
                        cond,
                        then,
                        otherwise,
                        origin: self.origin(node, path),
                    });
                }
            }
            "require" => {
                self.mapping(node, path, &["require", "error", "error_type"]);
                let cond = self.expr(v, &p);
                let error = self
                    .required(node, path, "error")
                    .and_then(|n| self.text(n, &join(path, "error")));
                let error_type = self.error_type(node, path);
                if let (Some(cond), Some(error), Some(error_type)) = (cond, error, error_type) {
                    out.push(Op::Require {
                        cond,
                        error,
                        error_type,
                        origin: self.origin(node, path),
                    });
                }
            }
            "fail" => {
                self.mapping(node, path, &["fail", "when", "error_type"]);
                let error = self.text(v, &p);
                let when = node.get("when").map(|n| self.expr(n, &join(path, "when")));
                let error_type = self.error_type(node, path);
                let (Some(error), Some(error_type)) = (error, error_type) else {
                    return;
                };
                let origin = self.origin(node, path);
                let fail = Op::Fail {
                    error,
                    error_type,
                    origin: origin.clone(),
                };
                match when {
                    None => out.push(fail),
                    Some(Some(cond)) => out.push(Op::If {
                        cond,
                        then: vec![fail],
                        otherwise: Vec::new(),
                        origin,
                    }),
                    Some(None) => {}
                }
            }
            "switch" => {
                self.mapping(node, path, &["switch", "cases", "default"]);
                let on = self.expr(v, &p);
                let mut cases = Vec::new();
                if let Some(c) = self.required(node, path, "cases") {
                    let cp = join(path, "cases");
                    if let Some(entries) = c.as_map() {
                        for (k, ops) in entries {
                            let name = k.scalar_text();
                            let ops = self.ops(ops, &join(&cp, &name));
                            cases.push((name, ops));
                        }
                    } else {
                        self.wrong(c, &cp, "a mapping of value -> operations");
                    }
                }
                let default = node
                    .get("default")
                    .map(|n| self.ops(n, &join(path, "default")))
                    .unwrap_or_default();
                if let Some(on) = on {
                    out.push(Op::Switch {
                        on,
                        cases,
                        default,
                        origin: self.origin(node, path),
                    });
                }
            }
            "fan_out" => {
                self.mapping(node, path, &["fan_out"]);
                self.mapping(v, &p, &["over", "as", "do"]);
                let over = self
                    .required(v, &p, "over")
                    .and_then(|n| self.expr(n, &join(&p, "over")));
                let Some(name) = self
                    .required(v, &p, "as")
                    .and_then(|n| self.string(n, &join(&p, "as")))
                else {
                    return;
                };
                let depth = self.scope.len();
                let slot = self.declare(&name);
                let ops = self
                    .required(v, &p, "do")
                    .map(|n| self.ops(n, &join(&p, "do")));
                self.scope.truncate(depth);
                if let (Some(over), Some(ops)) = (over, ops) {
                    out.push(Op::FanOut {
                        over,
                        slot,
                        ops,
                        origin: self.origin(node, path),
                    });
                }
            }
            "emit" => {
                self.mapping(node, path, &["emit"]);
                self.mapping(v, &p, &["clean", "request"]);
                let clean = match v.get("clean").map(|n| (n, n.as_str())) {
                    None => Some(Clean::None),
                    Some((_, Some("none"))) => Some(Clean::None),
                    Some((_, Some("top_nulls"))) => Some(Clean::TopNulls),
                    Some((_, Some("deep"))) => Some(Clean::Deep),
                    Some((n, _)) => {
                        self.err_hint(
                            Code::UnknownConstruct,
                            n,
                            &join(&p, "clean"),
                            "unknown cleaning policy",
                            Some("policies: none, top_nulls, deep".into()),
                        );
                        None
                    }
                };
                let request = self.emit_request(v.get("request"), &join(&p, "request"));
                if let (Some(clean), Some(request)) = (clean, request) {
                    out.push(Op::Emit {
                        clean,
                        request,
                        origin: self.origin(node, path),
                    });
                }
            }
            "return" => {
                self.mapping(node, path, &["return"]);
                if let Some(value) = self.expr(v, &p) {
                    out.push(Op::Return {
                        value,
                        origin: self.origin(node, path),
                    });
                }
            }
            "drop" => {
                self.mapping(node, path, &["drop"]);
                self.mapping(v, &p, &[]);
                out.push(Op::Drop {
                    origin: self.origin(node, path),
                });
            }
            "check_type" => {
                self.mapping(node, path, &["check_type"]);
                if !self.in_preamble {
                    self.err_hint(
                        Code::Misplaced,
                        node,
                        &p,
                        "`check_type` belongs in the destination file's `steps:`",
                        Some("in a flow, the message type has already been checked".into()),
                    );
                    return;
                }
                out.push(Op::CheckType);
            }
            "call" => {
                self.mapping(node, path, &["call"]);
                let Some(name) = self.string(v, &p) else {
                    return;
                };
                let Some(named) = self.procedures.get(&name).cloned() else {
                    if self.unchecked(format!("procedure `{name}`")) {
                        return;
                    }
                    let hint = suggest(&name, self.procedures.keys().map(String::as_str));
                    self.err_hint(
                        Code::UnknownProcedure,
                        v,
                        &p,
                        format!("unknown procedure `{name}`"),
                        hint,
                    );
                    return;
                };
                if self.calling.contains(&name) {
                    self.err(
                        Code::UnknownProcedure,
                        v,
                        &p,
                        format!(
                            "procedure `{name}` calls itself (through {})",
                            self.calling.join(" -> ")
                        ),
                    );
                    return;
                }
                self.calling.push(name);
                let saved = std::mem::replace(&mut self.file, named.file.clone());
                let ops = self.ops(named.node, &named.spec_path);
                self.file = saved;
                self.calling.pop();
                out.extend(ops);
            }
            _ => unreachable!("kinds come from the registry's OPS"),
        }
    }

    fn error_type(&mut self, node: &Node, path: &str) -> Option<String> {
        let Some(n) = node.get("error_type") else {
            return Some("instrumentation".into());
        };
        let t = self.string(n, &join(path, "error_type"))?;
        if let Some((_, tag)) = ERROR_TYPES.iter().find(|(name, _)| *name == t) {
            Some((*tag).to_owned())
        } else {
            let names = ERROR_TYPES.iter().map(|(n, _)| *n);
            let hint = suggest(&t, names.clone()).or_else(|| {
                Some(format!(
                    "error types: {}",
                    names.collect::<Vec<_>>().join(", ")
                ))
            });
            self.err_hint(
                Code::UnknownConstruct,
                n,
                &join(path, "error_type"),
                format!("unknown error type `{t}`"),
                hint,
            );
            None
        }
    }

    /// `fields:` is a group name or an inline mapping of payload path -> expression.
    pub fn field_group(&mut self, node: &'s Node, path: &str) -> Vec<Field> {
        if let Some(name) = node.as_str() {
            return match self.field_groups.get(name).cloned() {
                Some(f) => f,
                None if self.unchecked(format!("field group `{name}`")) => Vec::new(),
                None => {
                    let hint = suggest(name, self.field_groups.keys().map(String::as_str));
                    self.err_hint(
                        Code::UnknownTable,
                        node,
                        path,
                        format!("unknown field group `{name}`"),
                        hint,
                    );
                    Vec::new()
                }
            };
        }
        self.fields(node, path)
    }

    /// A mapping of payload path -> expression, in order.
    pub fn fields(&mut self, node: &'s Node, path: &str) -> Vec<Field> {
        let Some(entries) = node.as_map() else {
            self.wrong(node, path, "a mapping of payload path -> value");
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in entries {
            let target_text = k.scalar_text();
            let p = join(path, &target_text);
            if target_text.starts_with("...") {
                if let Some(value) = self.expr(v, &p) {
                    out.push(Field {
                        target: Target::Assign,
                        target_text,
                        value,
                        origin: self.origin(k, &p),
                    });
                }
                continue;
            }
            if target_text.is_empty() || target_text.split('.').any(str::is_empty) {
                self.err(
                    Code::BadPath,
                    k,
                    &p,
                    format!("payload path `{target_text}` has an empty segment"),
                );
                continue;
            }
            if let Some(value) = self.expr(v, &p) {
                out.push(Field {
                    target: Target::Path(split_set_path(&target_text)),
                    target_text,
                    value,
                    origin: self.origin(k, &p),
                });
            }
        }
        out
    }
}
