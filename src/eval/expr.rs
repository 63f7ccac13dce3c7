//! Evaluation: expressions and conditions over one event. Values are borrowed from the event,
//! the plan or the payload wherever possible and copied only when a new value is made.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::Failure;
use super::js::{self, SetKey};
use crate::plan::{Cond, Expr, Msg, ObjKey, Path, Plan, Pred, Root};

pub type Val<'a> = Option<Cow<'a, Value>>;

/// A binding made by `map` for the duration of its element.
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
    pub vars: &'a [Option<Value>],
    pub var_names: &'a [String],
    pub local: Option<&'a Local<'a>>,
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
        self.vars.get(slot).and_then(Option::as_ref)
    }

    pub fn read(&self, p: &Path) -> Option<&'a Value> {
        let root = match p.root {
            Root::Message => self.message,
            Root::Config => self.config,
            Root::Payload => self.payload,
            Root::Metadata => self.metadata,
            Root::Var(slot) => self.var(slot)?,
        };
        if p.segs.is_empty() {
            return Some(root);
        }
        js::get(root, &p.whole, &p.segs)
    }

    /// The context templates are rendered with: the event's parts and every variable.
    pub fn template_context(&self, extra: &[(&str, Value)]) -> Value {
        let mut m = Map::new();
        m.insert("message".into(), self.message.clone());
        m.insert("config".into(), self.config.clone());
        m.insert("metadata".into(), self.metadata.clone());
        m.insert("payload".into(), self.payload.clone());
        for (slot, name) in self.var_names.iter().enumerate() {
            if let Some(v) = self.var(slot) {
                m.insert(name.clone(), v.clone());
            }
        }
        for (k, v) in extra {
            m.insert((*k).to_owned(), v.clone());
        }
        Value::Object(m)
    }

    pub fn render(&self, msg: &Msg, extra: &[(&str, Value)]) -> Result<String, Failure> {
        match msg {
            Msg::Text(t) => Ok(t.clone()),
            Msg::Template { .. } => self
                .plan
                .render(msg, &self.template_context(extra))
                .map_err(Failure::instrumentation),
        }
    }
}

fn owned<'a>(v: Value) -> Val<'a> {
    Some(Cow::Owned(v))
}

pub fn test(pred: Pred, v: Option<&Value>) -> bool {
    match pred {
        Pred::Present => js::present(v),
        Pred::Defined => js::defined(v),
        Pred::Truthy => js::truthy(v),
        Pred::NotEmpty => js::not_empty(v),
        Pred::Filled => js::filled(v),
    }
}

pub fn eval<'a>(e: &'a Expr, s: &Scope<'a>) -> Result<Val<'a>, Failure> {
    Ok(match e {
        Expr::Literal(v) => Some(Cow::Borrowed(v)),
        Expr::Path(p) => s.read(p).map(Cow::Borrowed),
        Expr::JsonPath(q) => jsonpath_rust::query::js_path_process(q, s.message)
            .ok()
            .and_then(|found| found.into_iter().next())
            .map(|r| Cow::Borrowed(r.val)),
        Expr::FirstPresent(list) => first(list, s, Pred::Present)?,
        Expr::First { of, pred } => first(of, s, *pred)?,
        Expr::Or(list) => {
            let mut last = None;
            for x in list {
                let v = eval(x, s)?;
                if js::truthy(v.as_deref()) {
                    return Ok(v);
                }
                last = v;
            }
            last
        }
        Expr::If {
            cond,
            then,
            otherwise,
        } => {
            if check(cond, s)? {
                eval(then, s)?
            } else if let Some(o) = otherwise {
                eval(o, s)?
            } else {
                None
            }
        }
        Expr::Lowercase(x) => map_str(eval(x, s)?, str::to_lowercase),
        Expr::Uppercase(x) => map_str(eval(x, s)?, str::to_uppercase),
        Expr::Trim(x) => map_str(eval(x, s)?, |t| js::js_trim(t).to_owned()),
        Expr::Lookup { table, key } => match eval(key, s)?.as_deref() {
            Some(Value::String(k)) => table.get(k).map(Cow::Borrowed),
            _ => None,
        },
        Expr::MultiMap {
            rows,
            key,
            from,
            to,
            trim,
            lowercase,
        } => {
            let rows = eval(rows, s)?;
            let key = eval(key, s)?;
            multimap(rows.as_deref(), key.as_deref(), from, to, *trim, *lowercase)
        }
        Expr::List(items) => {
            let mut out = Vec::with_capacity(items.len());
            for x in items {
                out.push(eval(x, s)?.map_or(Value::Null, Cow::into_owned));
            }
            owned(Value::Array(out))
        }
        Expr::ToList(x) => match eval(x, s)? {
            None | Some(Cow::Borrowed(Value::Null)) => None,
            Some(v) if v.is_null() => None,
            Some(v) if v.is_array() => Some(v),
            Some(v) => owned(Value::Array(vec![v.into_owned()])),
        },
        Expr::CopyKeys { from, except } => {
            let mut sources = Vec::with_capacity(from.len());
            for x in from {
                sources.push(eval(x, s)?);
            }
            owned(copy_keys(&sources, except)?)
        }
        Expr::Omit { from, keys } => match eval(from, s)? {
            None => None,
            Some(v) => match v.as_ref() {
                Value::Null => None,
                Value::Object(m) => owned(Value::Object(
                    m.iter()
                        .filter(|(k, _)| !keys.iter().any(|x| x == *k))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )),
                Value::Array(a) => owned(Value::Object(
                    a.iter()
                        .enumerate()
                        .map(|(i, v)| (i.to_string(), v.clone()))
                        .filter(|(k, _)| !keys.contains(k))
                        .collect(),
                )),
                // Spreading a string gives one key per UTF-16 code unit, as `{...s}` does.
                Value::String(t) => owned(Value::Object(
                    t.encode_utf16()
                        .enumerate()
                        .map(|(i, u)| {
                            (i.to_string(), Value::String(String::from_utf16_lossy(&[u])))
                        })
                        .filter(|(k, _)| !keys.contains(k))
                        .collect(),
                )),
                _ => owned(Value::Object(Map::new())),
            },
        },
        Expr::Object(entries) => {
            let mut m = Map::new();
            for (k, x) in entries {
                let v = eval(x, s)?;
                match (k, v) {
                    (ObjKey::Key(name), Some(v)) => {
                        m.insert(name.clone(), v.into_owned());
                    }
                    (ObjKey::Spread, Some(v)) => {
                        if let Value::Object(o) = v.into_owned() {
                            for (k, v) in o {
                                m.insert(k, v);
                            }
                        }
                    }
                    (_, None) => {}
                }
            }
            owned(Value::Object(m))
        }
        Expr::Map { over, slot, to } => {
            let list = eval(over, s)?;
            match list.as_deref() {
                Some(Value::Array(items)) => {
                    let mut out = Vec::with_capacity(items.len());
                    for item in items {
                        let local = Local {
                            slot: *slot,
                            value: item,
                            parent: s.local,
                        };
                        let inner = Scope {
                            local: Some(&local),
                            ..*s
                        };
                        out.push(eval(to, &inner)?.map_or(Value::Null, Cow::into_owned));
                    }
                    owned(Value::Array(out))
                }
                _ => None,
            }
        }
        Expr::Template(m) => owned(Value::String(s.render(m, &[])?)),
    })
}

fn first<'a>(list: &'a [Expr], s: &Scope<'a>, pred: Pred) -> Result<Val<'a>, Failure> {
    for x in list {
        let v = eval(x, s)?;
        if test(pred, v.as_deref()) {
            return Ok(v);
        }
    }
    Ok(None)
}

fn map_str<'a>(v: Val<'a>, f: impl Fn(&str) -> String) -> Val<'a> {
    match v.as_deref() {
        Some(Value::String(t)) => owned(Value::String(f(t))),
        _ => None,
    }
}

/// Config rows `[{from, to}]`: the distinct `to` values of the rows whose `from` (trimmed and
/// lowercased as asked) equals the key. Rows with an empty `from` are skipped.
fn multimap<'a>(
    rows: Option<&Value>,
    key: Option<&Value>,
    from: &str,
    to: &str,
    trim: bool,
    lowercase: bool,
) -> Val<'a> {
    let (Some(Value::Array(rows)), Some(Value::String(key))) = (rows, key) else {
        return None;
    };
    let mut found: Vec<Value> = Vec::new();
    let mut any = false;
    for row in rows {
        let Value::Object(row) = row else { continue };
        let raw = match row.get(from) {
            None | Some(Value::Null) => continue,
            Some(Value::String(f)) => f.clone(),
            Some(other) => js::to_js_string(Some(other)),
        };
        if js::js_trim(&raw).is_empty() {
            continue;
        }
        let mut k = if trim {
            js::js_trim(&raw).to_owned()
        } else {
            raw
        };
        if lowercase {
            k = k.to_lowercase();
        }
        if &k == key {
            any = true;
            let v = row.get(to).cloned().unwrap_or(Value::Null);
            if !found.iter().any(|f| js::same(Some(f), Some(&v))) {
                found.push(v);
            }
        }
    }
    any.then(|| Cow::Owned(Value::Array(found)))
}

const RESERVED: [&str; 3] = ["__proto__", "constructor", "prototype"];

/// The keys a source offers, as `Object.keys` lists them.
fn keys_of(v: &Value) -> Vec<String> {
    match v {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(a) => (0..a.len()).map(|i| i.to_string()).collect(),
        Value::String(t) => (0..t.encode_utf16().count())
            .map(|i| i.to_string())
            .collect(),
        _ => Vec::new(),
    }
}

/// Own property `k` of a source, `None` when it has none.
fn own_of(v: &Value, k: &str) -> Option<Value> {
    match v {
        Value::Object(m) => m.get(k).cloned(),
        Value::Array(a) => js::array_index(k).and_then(|i| a.get(i)).cloned(),
        // `get-value` on a string gives the string itself for any key the string has.
        Value::String(t) => js::array_index(k)
            .filter(|i| *i < t.encode_utf16().count())
            .map(|_| Value::String(t.clone())),
        _ => None,
    }
}

/// A key `set-value` writes as itself: no `.`, `/` or `\\`, and nothing `Number()` could
/// read as an integer (which would make it an array index).
fn plain_key(k: &str) -> bool {
    let Some(first) = k.chars().next() else {
        return false;
    };
    let may_start_number = first.is_ascii_digit()
        || matches!(first, '+' | '-' | '.' | '\u{FEFF}')
        || first.is_whitespace();
    !may_start_number && !k.contains(['.', '/', '\\'])
}

/// Every key of each truthy source not in `except`, written with `set-value` (so dotted keys
/// nest); keys seen in earlier sources are looked up again in later ones, which then win.
fn copy_keys(sources: &[Val<'_>], except: &[String]) -> Result<Value, Failure> {
    let wanted = |k: &str| !except.iter().any(|x| x == k) && !RESERVED.contains(&k);
    let all_plain = sources.iter().all(|s| match s.as_deref() {
        Some(Value::Object(m)) => m.keys().all(|k| plain_key(k) || !wanted(k)),
        Some(Value::Array(_) | Value::String(_)) => false,
        _ => true,
    });
    if all_plain {
        // Plain keys: writing each source's keys in its own order gives the same object.
        let mut out = Map::new();
        for src in sources {
            if let Some(Value::Object(m)) = src.as_deref() {
                for (k, v) in m {
                    if wanted(k) {
                        *js::object_slot(&mut out, k) = v.clone();
                    }
                }
            }
        }
        return Ok(Value::Object(out));
    }
    let mut out = Value::Object(Map::new());
    let mut keys: Vec<String> = Vec::new();
    let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
    for src in sources {
        let Some(src) = src.as_deref() else { continue };
        if !js::truthy(Some(src)) {
            continue;
        }
        for k in keys_of(src) {
            if wanted(&k) && seen.insert(k.clone()) {
                keys.push(k);
            }
        }
        for k in &keys {
            if let Some(v) = own_of(src, k) {
                let path: Vec<SetKey> = js::split_set_path(k);
                js::set(&mut out, &path, Some(v)).map_err(|e| {
                    Failure::instrumentation(format!(
                        "cannot copy key `{}`: {e}",
                        js::abbreviate(k)
                    ))
                })?;
            }
        }
    }
    Ok(out)
}

pub fn check<'a>(c: &'a Cond, s: &Scope<'a>) -> Result<bool, Failure> {
    Ok(match c {
        Cond::Eq(a, b) => js::same(eval(a, s)?.as_deref(), eval(b, s)?.as_deref()),
        Cond::Ne(a, b) => !js::same(eval(a, s)?.as_deref(), eval(b, s)?.as_deref()),
        Cond::Test(p, e) => test(*p, eval(e, s)?.as_deref()),
        Cond::IsType(e, t) => js::type_name(eval(e, s)?.as_deref()) == t,
        Cond::SubstringOfAny(v, list) => {
            let v = eval(v, s)?;
            if !js::truthy(v.as_deref()) {
                return Ok(false);
            }
            let needle = js::to_js_string(v.as_deref());
            match eval(list, s)?.as_deref() {
                Some(Value::Array(items)) => items
                    .iter()
                    .any(|i| i.as_str().is_some_and(|h| h.contains(&needle))),
                _ => false,
            }
        }
        Cond::In(v, list) => {
            let v = eval(v, s)?;
            match eval(list, s)?.as_deref() {
                Some(Value::Array(items)) => items.iter().any(|i| js::same(Some(i), v.as_deref())),
                _ => false,
            }
        }
        Cond::All(cs) => {
            for c in cs {
                if !check(c, s)? {
                    return Ok(false);
                }
            }
            true
        }
        Cond::Any(cs) => {
            for c in cs {
                if check(c, s)? {
                    return Ok(true);
                }
            }
            false
        }
        Cond::Not(c) => !check(c, s)?,
    })
}
