//! Compile stage: the request (the response item's `output`). The destination's `request:` is
//! the default; a flow's `request:` and an `emit`'s `request:` override it field by field
//! (`body` format by format). Every field is a shape: strings are texts with `{{ }}` holes,
//! mappings and lists are built as written, a key `...` spreads an object in.

use std::sync::Arc;

use crate::value::{Str, Value};

use super::cx::{Cx, join};
use crate::diag::{Code, suggest};
use crate::plan::{Expr, Request, Root, Shape, TextPart};
use crate::registry::METHODS;
use crate::spec::node::{Kind, Node};

/// The response fields, in the order the reference's `defaultRequestConfig` gives them.
pub const FIELDS: &[&str] = &[
    "version", "type", "method", "endpoint", "headers", "params", "body", "files", "userId",
];

/// Keys of `request:` that are settings, not response fields.
const SETTINGS: &[&str] = &["step", "field_order"];

const BODY_FORMATS: &[&str] = &["JSON", "JSON_ARRAY", "XML", "FORM"];

fn allowed() -> Vec<&'static str> {
    FIELDS.iter().chain(SETTINGS).copied().collect()
}

impl<'s> Cx<'s> {
    /// Checks a `request:` mapping and returns its entries, for merging.
    pub fn request_entries(&mut self, node: &'s Node, path: &str) -> Vec<(String, &'s Node)> {
        let Some(entries) = self.mapping(node, path, &allowed()) else {
            return Vec::new();
        };
        // A literal method is checked here, even where every flow overrides it.
        if let Some(m) = node.get("method")
            && let Some(text) = m.as_str()
            && !text.contains("{{")
            && !METHODS.contains(&text)
        {
            let hint = suggest(text, METHODS.iter().copied())
                .or_else(|| Some(format!("methods: {}", METHODS.join(", "))));
            self.err_hint(
                Code::WrongType,
                m,
                &join(path, "method"),
                format!("`{text}` is not an HTTP method"),
                hint,
            );
        }
        entries
            .iter()
            .filter_map(|(k, v)| k.as_str().map(|k| (k.to_owned(), v)))
            .collect()
    }

    /// The request of an `emit`: the flow's request with the emit's overrides.
    pub fn emit_request(&mut self, over: Option<&'s Node>, path: &str) -> Option<Arc<Request>> {
        let Some(over) = over else {
            if let Some(r) = &self.request_cache {
                return Some(r.clone());
            }
            let base = self.request_base.clone();
            let r = Arc::new(self.compile_request(&base)?);
            self.request_cache = Some(r.clone());
            return Some(r);
        };
        let mut fields = self.request_base.clone();
        let file = self.file.clone();
        for (k, v) in self.request_entries(over, path) {
            merge_field(&mut fields, k, file.clone(), v);
        }
        self.compile_request(&fields).map(Arc::new)
    }

    /// Compiles merged request fields (each with the file it is written in).
    pub fn compile_request(&mut self, fields: &[(String, Arc<str>, &'s Node)]) -> Option<Request> {
        let saved = self.file.clone();
        let mut ok = true;
        let mut step = "buildResponse".to_owned();
        let mut order: Vec<String> = FIELDS[..8].iter().map(|s| (*s).to_owned()).collect();
        if fields.iter().any(|(k, _, _)| k == "userId") {
            order.push("userId".into());
        }
        for (k, file, v) in fields {
            self.file = file.clone();
            match k.as_str() {
                "step" => match self.string(v, "request.step") {
                    Some(s) => step = s,
                    None => ok = false,
                },
                "field_order" => match self.string_list(v, "request.field_order") {
                    Some(list) => {
                        for f in list.iter() {
                            if !FIELDS.contains(&f.as_str()) {
                                let hint = suggest(f, FIELDS.iter().copied());
                                self.err_hint(
                                    Code::UnknownKey,
                                    v,
                                    "request.field_order",
                                    format!("`{f}` is not a response field"),
                                    hint,
                                );
                                ok = false;
                            }
                        }
                        let mut o: Vec<String> = list.to_vec();
                        for f in &order {
                            if !o.contains(f) {
                                o.push(f.clone());
                            }
                        }
                        order = o;
                    }
                    None => ok = false,
                },
                _ => {}
            }
        }
        let mut out = Vec::new();
        for name in &order {
            let given: Vec<&(String, Arc<str>, &'s Node)> =
                fields.iter().filter(|(k, _, _)| k == name).collect();
            let shape = match name.as_str() {
                "body" => self.body(&given),
                _ => match given.last() {
                    Some((_, file, v)) => {
                        self.file = file.clone();
                        let p = join("request", name);
                        if name == "method" {
                            self.method(v, &p)
                        } else {
                            self.shape(v, &p)
                        }
                    }
                    None => Some(default_field(name)),
                },
            };
            match shape {
                Some(s) => out.push((name.clone(), s)),
                None => ok = false,
            }
        }
        self.file = saved;
        if !ok {
            return None;
        }
        let fast = out.iter().all(|(k, s)| match (k.as_str(), s) {
            ("userId", _) => false,
            ("body", Shape::Object(formats)) => formats.iter().all(|(f, s)| match f.as_deref() {
                Some("JSON") => matches!(s, Shape::Expr(Expr::Path(p)) if p.root == Root::Payload && p.segs.is_empty()),
                _ => is_literal(s),
            }),
            (_, s) => is_literal(s),
        }) && order[..8] == FIELDS[..8];
        let template = if fast {
            crate::protocol::processor::fast_template(&out)
        } else {
            Vec::new()
        };
        Some(Request {
            step,
            fields: out,
            fast,
            template,
        })
    }

    fn method(&mut self, v: &'s Node, path: &str) -> Option<Shape> {
        let text = self.text(v, path)?;
        if let Some(m) = text.as_literal() {
            if !METHODS.contains(&m) {
                let hint = suggest(m, METHODS.iter().copied())
                    .or_else(|| Some(format!("methods: {}", METHODS.join(", "))));
                self.err_hint(
                    Code::WrongType,
                    v,
                    path,
                    format!("`{m}` is not an HTTP method"),
                    hint,
                );
                return None;
            }
            return Some(Shape::Expr(Expr::Literal(Value::String(Str::from(m)))));
        }
        Some(text_shape(text))
    }

    /// `body`: the formats given, over the defaults (`JSON` the payload, the others `{}`).
    fn body(&mut self, given: &[&(String, Arc<str>, &'s Node)]) -> Option<Shape> {
        type Given<'n> = Option<(Arc<str>, &'n Node)>;
        let mut formats: Vec<(String, Given<'s>)> = BODY_FORMATS
            .iter()
            .map(|f| ((*f).to_owned(), None))
            .collect();
        for (_, file, v) in given {
            self.file = file.clone();
            let entries = self.mapping(v, "request.body", BODY_FORMATS)?;
            for (k, fv) in entries {
                let name = k.scalar_text();
                if let Some(slot) = formats.iter_mut().find(|(f, _)| *f == name) {
                    slot.1 = Some((file.clone(), fv));
                }
            }
        }
        let mut out = Vec::new();
        for (name, given) in formats {
            let shape = match given {
                Some((file, v)) => {
                    self.file = file;
                    self.shape(v, &join("request.body", &name))?
                }
                None if name == "JSON" => Shape::Expr(Expr::Path(crate::plan::Path {
                    root: Root::Payload,
                    whole: "".into(),
                    segs: Vec::new(),
                    prefix: None,
                })),
                None => Shape::Expr(Expr::Literal(Value::Object(crate::value::Map::new()))),
            };
            out.push((Some(name), shape));
        }
        Some(Shape::Object(out))
    }

    /// A shape: texts, and mappings and lists built as written.
    pub fn shape(&mut self, v: &'s Node, path: &str) -> Option<Shape> {
        match &v.kind {
            Kind::Str(_) => Some(text_shape(self.text(v, path)?)),
            Kind::Map(entries) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (k, item) in entries {
                    let name = k.scalar_text();
                    let p = join(path, &name);
                    match self.shape(item, &p) {
                        Some(s) => out.push(((!name.starts_with("...")).then_some(name), s)),
                        None => ok = false,
                    }
                }
                ok.then_some(Shape::Object(out))
            }
            Kind::Seq(items) => {
                let mut out = Vec::new();
                let mut ok = true;
                for (i, item) in items.iter().enumerate() {
                    match self.shape(item, &format!("{path}[{i}]")) {
                        Some(s) => out.push(s),
                        None => ok = false,
                    }
                }
                ok.then_some(Shape::List(out))
            }
            _ => Some(Shape::Expr(Expr::Literal(v.to_json()))),
        }
    }
}

/// Adds or replaces a field (`body` merges format by format, so both are kept).
pub fn merge_field<'s>(
    fields: &mut Vec<(String, Arc<str>, &'s Node)>,
    key: String,
    file: Arc<str>,
    node: &'s Node,
) {
    if key != "body" {
        fields.retain(|(k, _, _)| *k != key);
    }
    fields.push((key, file, node));
}

fn text_shape(text: crate::plan::Text) -> Shape {
    if let Some(lit) = text.as_literal() {
        return Shape::Expr(Expr::Literal(Value::String(Str::from(lit))));
    }
    if let [TextPart::Hole(e)] = text.parts.as_slice() {
        return Shape::Expr(e.clone());
    }
    Shape::Expr(Expr::Text(Arc::new(text)))
}

fn is_literal(s: &Shape) -> bool {
    match s {
        Shape::Expr(Expr::Literal(_)) => true,
        Shape::Expr(_) => false,
        Shape::Object(entries) => entries.iter().all(|(k, s)| k.is_some() && is_literal(s)),
        Shape::List(items) => items.iter().all(is_literal),
    }
}

fn default_field(name: &str) -> Shape {
    let v = match name {
        "version" => Value::String("1".into()),
        "type" => Value::String("REST".into()),
        "method" => Value::String("POST".into()),
        "endpoint" => Value::String(Str::default()),
        // Absent: the processor answers its default `""`.
        "userId" => Value::Null,
        _ => Value::Object(crate::value::Map::new()),
    };
    Shape::Expr(Expr::Literal(v))
}

/// The literal value of a shape that is all literals.
pub fn literal_value(s: &Shape) -> Option<Value> {
    match s {
        Shape::Expr(Expr::Literal(v)) => Some(v.clone()),
        Shape::Expr(_) => None,
        Shape::Object(entries) => {
            let mut m = crate::value::Map::new();
            for (k, s) in entries {
                m.insert(k.clone()?.into(), literal_value(s)?);
            }
            Some(Value::Object(m))
        }
        Shape::List(items) => items
            .iter()
            .map(literal_value)
            .collect::<Option<Vec<_>>>()
            .map(Value::Array),
    }
}
