//! Evaluation: expressions over one event. Values are borrowed from the event, the plan or
//! the payload wherever possible and copied only when a new value is made. `None` is
//! JavaScript's `undefined`.

use std::borrow::Cow;
use std::sync::Arc;

use crate::value::{Map, Str, Value};
use compact_str::ToCompactString;

use super::Failure;
use super::func;
use super::js;
use crate::plan::{Expr, JsonFilter, Path, Plan, Root, Text, TextPart, Unary};

pub type Val<'a> = Option<Cow<'a, Value>>;

/// A variable's value: made by this event, shared by every event of its destination (a
/// config-only `let`'s value, remembered; see `compile::memo`), or a part of the event itself
/// (`let props: message.properties`), so never copied to be bound.
#[derive(Clone)]
pub enum Bound<'e> {
    Own(Value),
    Shared(Arc<Value>),
    Event(&'e Value),
}

impl Bound<'_> {
    /// The value itself, copied only when it is not this binding's own.
    pub fn into_value(self) -> Value {
        match self {
            Bound::Own(v) => v,
            Bound::Shared(v) => Arc::unwrap_or_clone(v),
            Bound::Event(v) => v.clone(),
        }
    }
}

impl std::ops::Deref for Bound<'_> {
    type Target = Value;

    fn deref(&self) -> &Value {
        match self {
            Bound::Own(v) => v,
            Bound::Shared(v) => v,
            Bound::Event(v) => v,
        }
    }
}

impl From<Value> for Bound<'_> {
    fn from(v: Value) -> Self {
        Bound::Own(v)
    }
}

/// A binding made by a lambda or `fan_out` for the duration of one element.
pub struct Local<'a> {
    pub slot: usize,
    pub value: &'a Value,
    pub parent: Option<&'a Local<'a>>,
}

/// What an expression can see.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    pub plan: &'a Plan,
    pub message: &'a Value,
    pub config: &'a Value,
    pub metadata: &'a Value,
    pub payload: &'a Value,
    pub vars: &'a [Option<Bound<'a>>],
    /// Where the message paths' parents were found, for this event (empty: not remembered).
    pub prefixes: &'a [std::cell::Cell<js::Prefix>],
    pub local: Option<&'a Local<'a>>,
    /// The whole destination of the item.
    pub destination: &'a Value,
    /// The request item's connection (null when it has none).
    pub connection: &'a Value,
    pub env: &'a super::Env,
    /// The clock, in milliseconds since 1970.
    pub now_ms: i64,
}

impl<'a> Scope<'a> {
    fn var(&self, slot: usize) -> Option<&'a Value> {
        let mut l = self.local;
        while let Some(b) = l {
            if b.slot == slot {
                return Some(b.value);
            }
            l = b.parent;
        }
        self.vars.get(slot).and_then(Option::as_deref)
    }

    /// `integration`: the first truthy `message.integrations.<name>`.
    fn integration(&self) -> Option<&'a Value> {
        let all = self.message.get("integrations")?;
        self.plan
            .integration_names
            .iter()
            .filter_map(|n| all.get(n.as_str()))
            .find(|v| js::truthy(Some(v)))
    }

    pub fn read(&self, p: &Path) -> Option<&'a Value> {
        let root = match p.root {
            Root::Message => self.message,
            Root::Config => self.config,
            Root::Payload => self.payload,
            Root::Metadata => self.metadata,
            Root::Integration => self.integration()?,
            Root::Destination => self.destination,
            Root::Connection => self.connection,
            Root::Consts => &self.env.consts,
            Root::Router => {
                static YES: Value = Value::Bool(true);
                static NO: Value = Value::Bool(false);
                if self.env.router { &YES } else { &NO }
            }
            Root::Var(slot) => self.var(slot)?,
        };
        if p.segs.is_empty() {
            return Some(root);
        }
        // A message path below a parent the event has found already starts from there.
        if let (Root::Message, Some(place)) = (&p.root, p.prefix)
            && let Some(cell) = self.prefixes.get(place as usize)
            && let Some(leaf) = p.segs.last()
        {
            let mut found = cell.get();
            if let js::Prefix::Unknown = found {
                found = match self.plan.read_prefixes.get(place as usize) {
                    Some(segs) => js::find_prefix(root, segs),
                    None => js::Prefix::Joined,
                };
                cell.set(found);
            }
            match found {
                js::Prefix::Absent => return None,
                js::Prefix::At(at, n) => {
                    if let Some(parent) = js::follow(root, &at[..usize::from(n)]) {
                        return js::own(parent, leaf);
                    }
                }
                js::Prefix::Unknown | js::Prefix::Joined => {}
            }
        }
        js::get(root, &p.whole, &p.segs)
    }

    /// A text's value: the value itself for a text that is one hole, else the parts joined.
    pub fn text(&self, t: &'a Text) -> Result<Val<'a>, Failure> {
        match t.parts.as_slice() {
            [TextPart::Lit(s)] => Ok(Some(Cow::Owned(Value::String(Str::from(s.as_str()))))),
            [TextPart::Hole(e)] => eval(e, self),
            parts => {
                let mut out = Str::default();
                for p in parts {
                    match p {
                        TextPart::Lit(s) => out.push_str(s),
                        TextPart::Hole(e) => {
                            out.push_str(&js::to_js_string(eval(e, self)?.as_deref()))
                        }
                    }
                }
                Ok(Some(Cow::Owned(Value::String(out))))
            }
        }
    }

    /// A text as a string (an error message, say).
    pub fn render(&self, t: &'a Text) -> Result<String, Failure> {
        if let Some(s) = t.as_literal() {
            return Ok(s.to_owned());
        }
        let v = self.text(t)?;
        Ok(match v.as_deref() {
            Some(Value::String(s)) => s.as_str().to_owned(),
            other => js::to_js_string(other),
        })
    }
}

fn owned<'a>(v: Value) -> Val<'a> {
    Some(Cow::Owned(v))
}

pub fn eval<'a>(e: &'a Expr, s: &Scope<'a>) -> Result<Val<'a>, Failure> {
    Ok(match e {
        Expr::Literal(v) => Some(Cow::Borrowed(v)),
        Expr::Undefined => None,
        Expr::Path(p) => s.read(p).map(Cow::Borrowed),
        Expr::Member(base, whole, segs) => match eval(base, s)? {
            None => None,
            Some(Cow::Borrowed(v)) => js::get(v, whole, segs).map(Cow::Borrowed),
            Some(Cow::Owned(v)) => js::get(&v, whole, segs).cloned().map(Cow::Owned),
        },
        Expr::Index(base, key) => {
            let key = eval(key, s)?;
            if let Expr::Call(crate::plan::Func::RowsToObject, args) = base.as_ref() {
                let k = match key.as_deref() {
                    Some(Value::String(t)) => Cow::Borrowed(t.as_str()),
                    other => Cow::Owned(js::to_js_string(other)),
                };
                return func::rows_lookup(args, s, &k);
            }
            match eval(base, s)? {
                None => None,
                Some(Cow::Borrowed(v)) => index(v, key.as_deref()).map(Cow::Borrowed),
                Some(Cow::Owned(v)) => index(&v, key.as_deref()).cloned().map(Cow::Owned),
            }
        }
        Expr::JsonPath(q) => jsonpath_rust::query::js_path_process(q, s.message)
            .ok()
            .and_then(|found| found.into_iter().next())
            .map(|r| Cow::Borrowed(r.val)),
        Expr::JsonFilter(f) => json_filter(f, s.message).map(Cow::Borrowed),
        Expr::Array(items) => {
            let mut out = Vec::with_capacity(items.len());
            for (spread, x) in items {
                let v = eval(x, s)?;
                if *spread {
                    match v.map(Cow::into_owned) {
                        Some(Value::Array(a)) => out.extend(a),
                        Some(Value::String(t)) => {
                            out.extend(t.chars().map(|c| Value::String(c.to_compact_string())))
                        }
                        None | Some(Value::Null) => {
                            return Err(Failure::instrumentation(
                                "cannot spread undefined or null into a list".into(),
                            ));
                        }
                        Some(other) => {
                            return Err(Failure::instrumentation(format!(
                                "cannot spread {} into a list",
                                js::type_name(Some(&other))
                            )));
                        }
                    }
                } else {
                    // JSON has no undefined: an undefined element is written as null.
                    out.push(v.map_or(Value::Null, Cow::into_owned));
                }
            }
            owned(Value::Array(out))
        }
        Expr::Object(entries, distinct) => {
            let mut m = Map::with_capacity(entries.len());
            for (k, x) in entries {
                let v = eval(x, s)?.map(Cow::into_owned);
                match (k, v) {
                    // Each key once: appended, and an undefined one is simply left out.
                    (Some(k), v) if *distinct => {
                        if let Some(v) = v {
                            m.push_unique(Str::from(k.as_str()), v);
                        }
                    }
                    (k, v) => put(&mut m, k.as_deref(), v),
                }
            }
            owned(Value::Object(m))
        }
        // Returned as they are: their result is written in this call's place, not copied.
        Expr::Text(t) => return s.text(t),
        Expr::Unary(op, x) => {
            let v = eval(x, s)?;
            match op {
                Unary::Not => owned(Value::Bool(!js::truthy(v.as_deref()))),
                Unary::Neg => owned(js::num(-js::to_number(v.as_deref()))),
                Unary::Plus => owned(js::num(js::to_number(v.as_deref()))),
            }
        }
        Expr::Call(f, args) => return func::call(*f, args, s),
    })
}

/// A [`JsonFilter`]'s first match in `message`.
pub fn json_filter<'v>(f: &JsonFilter, message: &'v Value) -> Option<&'v Value> {
    fn walk<'v>(mut v: &'v Value, names: &[Box<str>]) -> Option<&'v Value> {
        for n in names {
            v = v.as_object()?.get(n.as_ref())?;
        }
        Some(v)
    }
    let matches = |c: &&'v Value| {
        c.as_object()
            .and_then(|o| o.get(f.key.as_ref()))
            .and_then(Value::as_str)
            == Some(&f.equals)
    };
    match walk(message, &f.list)? {
        Value::Array(items) => items.iter().filter(matches).find_map(|c| walk(c, &f.then)),
        Value::Object(members) => members
            .values()
            .filter(matches)
            .find_map(|c| walk(c, &f.then)),
        _ => None,
    }
}

/// One member of an object being built: `key: value` (undefined removes the key, as
/// `{a: undefined}` has no `a` once written as JSON), or `...value` when there is no key.
pub fn put(m: &mut Map, key: Option<&str>, v: Option<Value>) {
    match (key, v) {
        (Some(name), Some(v)) => *js::object_slot(m, name) = v,
        (Some(name), None) => {
            m.shift_remove(name);
        }
        (None, Some(v)) => spread_into(m, v),
        (None, None) => {}
    }
}

/// `{...v}`: the own enumerable keys of a value, in JavaScript's order.
pub fn spread_into(m: &mut Map, v: Value) {
    match v {
        // A key already there keeps its place (JavaScript's order); a new one is moved in.
        Value::Object(o) => {
            for (k, v) in o {
                m.insert(k, v);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.into_iter().enumerate() {
                *js::object_slot(m, &i.to_string()) = v;
            }
        }
        Value::String(t) => {
            for (i, u) in t.encode_utf16().enumerate() {
                *js::object_slot(m, &i.to_string()) =
                    Value::String(String::from_utf16_lossy(&[u]).into());
            }
        }
        _ => {}
    }
}

/// `base[key]`: an own property of an object, an element of a list, a character of a string.
pub fn index<'v>(base: &'v Value, key: Option<&Value>) -> Option<&'v Value> {
    let k = match key {
        Some(Value::String(s)) => Cow::Borrowed(s.as_str()),
        other => Cow::Owned(js::to_js_string(other)),
    };
    match base {
        Value::Object(m) => m.get(k.as_ref()),
        Value::Array(a) => js::array_index(&k).and_then(|i| a.get(i)),
        _ => None,
    }
}
