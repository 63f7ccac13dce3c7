//! Evaluation: the registry's function constructs. Each behaves as its registry entry says,
//! with JavaScript's semantics where the reference's answers depend on them. A function given
//! a value of a type it cannot take (where JavaScript would throw) fails the event with a
//! message naming the function.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::value::{Map, Str, Value};
use compact_str::ToCompactString;
use regex::Regex;

use super::Failure;
use super::dates;
use super::expr::{Local, Scope, Val, eval, spread_into};
use super::js::{self, SetKey};
use crate::plan::{Arg, Expr, Func};

fn owned<'a>(v: Value) -> Val<'a> {
    Some(Cow::Owned(v))
}

fn boolean<'a>(b: bool) -> Val<'a> {
    owned(Value::Bool(b))
}

fn text<'a>(s: String) -> Val<'a> {
    owned(Value::String(s.into()))
}

fn arg<'a>(args: &'a [Arg], i: usize, s: &Scope<'a>) -> Result<Val<'a>, Failure> {
    match args.get(i) {
        Some(Arg::Value(e)) => eval(e, s),
        _ => Ok(None),
    }
}

fn regex_arg(args: &[Arg], i: usize) -> &Arc<Regex> {
    match args.get(i) {
        Some(Arg::Regex(r)) => r,
        _ => unreachable!("the compiler gives regex parameters a compiled regex"),
    }
}

/// The text of a key made a value to bind it.
fn into_text(key: Value) -> Str {
    match key {
        Value::String(t) => t,
        _ => unreachable!("keys are bound as texts"),
    }
}

fn lambda_arg(args: &[Arg], i: usize) -> (&[usize], &Expr) {
    match args.get(i) {
        Some(Arg::Lambda(slots, body)) => (slots, body),
        _ => unreachable!("the compiler gives lambda parameters a lambda"),
    }
}

fn wrong(name: &str, what: &str, v: Option<&Value>) -> Failure {
    Failure::instrumentation(format!(
        "{name}: expected {what}, found {}",
        js::type_name(v)
    ))
}

/// Calls a lambda with up to two arguments; the result is owned.
fn apply(
    slots: &[usize],
    body: &Expr,
    a: &Value,
    b: &Value,
    s: &Scope<'_>,
) -> Result<Option<Value>, Failure> {
    apply_with(slots, body, a, b, s, |v| v.map(Cow::into_owned))
}

/// A lambda's value as a condition, not copied.
fn test(
    slots: &[usize],
    body: &Expr,
    a: &Value,
    b: &Value,
    s: &Scope<'_>,
) -> Result<bool, Failure> {
    apply_with(slots, body, a, b, s, |v| js::truthy(v.as_deref()))
}

/// A lambda's value given to `then` as it is (borrowed where it was not made).
fn apply_with<R>(
    slots: &[usize],
    body: &Expr,
    a: &Value,
    b: &Value,
    s: &Scope<'_>,
    then: impl FnOnce(Val<'_>) -> R,
) -> Result<R, Failure> {
    let first = slots.first().map(|slot| Local {
        slot: *slot,
        value: a,
        parent: s.local,
    });
    let second = match (slots.get(1), &first) {
        (Some(slot), Some(f)) => Some(Local {
            slot: *slot,
            value: b,
            parent: Some(f),
        }),
        _ => None,
    };
    let local = second.as_ref().or(first.as_ref()).or(s.local);
    let inner = Scope { local, ..*s };
    Ok(then(eval(body, &inner)?))
}

/// A string argument of a string function: `None` for anything that is not text (the
/// function then gives undefined).
fn string_arg<'v>(_name: &str, v: Option<&'v Value>) -> Result<Option<&'v str>, Failure> {
    match v {
        Some(Value::String(s)) => Ok(Some(s)),
        _ => Ok(None),
    }
}

/// The elements of the first argument, a list, without copying them: a list literal's
/// elements are evaluated one by one (undefined ones as null, as the literal would hold them),
/// a list read from the event is borrowed. `Ok(None)` for undefined or null.
fn list_items<'a>(
    f: Func,
    args: &'a [Arg],
    s: &Scope<'a>,
) -> Result<Option<Vec<Cow<'a, Value>>>, Failure> {
    // `values(object)` as a list source: its values, borrowed.
    if let Some(Arg::Value(Expr::Call(Func::Values, inner))) = args.first()
        && let Some(Cow::Borrowed(Value::Object(m))) = arg(inner, 0, s)?
        && !m.keys().any(|k| js::array_index(k).is_some())
    {
        return Ok(Some(m.values().map(Cow::Borrowed).collect()));
    }
    if let Some(Arg::Value(Expr::Array(items))) = args.first()
        && items.iter().all(|(spread, _)| !spread)
    {
        let mut out = Vec::with_capacity(items.len());
        for (_, e) in items {
            out.push(eval(e, s)?.unwrap_or(Cow::Owned(Value::Null)));
        }
        return Ok(Some(out));
    }
    Ok(match arg(args, 0, s)? {
        None => None,
        Some(Cow::Borrowed(Value::Null)) => None,
        Some(Cow::Borrowed(Value::Array(a))) => Some(a.iter().map(Cow::Borrowed).collect()),
        Some(Cow::Owned(Value::Array(a))) => Some(a.into_iter().map(Cow::Owned).collect()),
        Some(Cow::Owned(Value::Null)) => None,
        Some(other) => return Err(wrong(crate::registry::of(f).name, "a list", Some(&other))),
    })
}

/// A list argument: `Ok(None)` for undefined or null.
fn list_arg(f: Func, v: Option<&Value>) -> Result<Option<&[Value]>, Failure> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        other => Err(wrong(crate::registry::of(f).name, "a list", other)),
    }
}

fn int_arg(v: Option<&Value>, default: f64) -> f64 {
    match v {
        None => default,
        v => {
            let n = js::to_number(v);
            if n.is_nan() { 0.0 } else { n.trunc() }
        }
    }
}

pub fn call<'a>(f: Func, args: &'a [Arg], s: &Scope<'a>) -> Result<Val<'a>, Failure> {
    let a0 = || arg(args, 0, s);
    Ok(match f {
        Func::Coalesce => {
            let mut last = None;
            for i in 0..args.len() {
                let v = arg(args, i, s)?;
                if js::defined(v.as_deref()) {
                    return Ok(v);
                }
                last = v;
            }
            last
        }
        Func::Or => {
            let mut last = None;
            for i in 0..args.len() {
                let v = arg(args, i, s)?;
                if js::truthy(v.as_deref()) {
                    return Ok(v);
                }
                last = v;
            }
            last
        }
        Func::And => {
            let mut last = None;
            for i in 0..args.len() {
                let v = arg(args, i, s)?;
                if !js::truthy(v.as_deref()) {
                    return Ok(v);
                }
                last = v;
            }
            last
        }
        Func::Not => boolean(!js::truthy(a0()?.as_deref())),
        Func::If => {
            if js::truthy(a0()?.as_deref()) {
                arg(args, 1, s)?
            } else {
                arg(args, 2, s)?
            }
        }
        Func::FirstPresent => {
            for i in 0..args.len() {
                let v = arg(args, i, s)?;
                if js::present(v.as_deref()) {
                    return Ok(v);
                }
            }
            None
        }
        Func::Eq | Func::Ne => {
            let (a, b) = (a0()?, arg(args, 1, s)?);
            boolean(js::same(a.as_deref(), b.as_deref()) == (f == Func::Eq))
        }
        Func::Lt | Func::Le | Func::Gt | Func::Ge => {
            use std::cmp::Ordering::{Equal, Greater, Less};
            let (a, b) = (a0()?, arg(args, 1, s)?);
            let o = js::compare(a.as_deref(), b.as_deref());
            boolean(match f {
                Func::Lt => o == Some(Less),
                Func::Le => matches!(o, Some(Less | Equal)),
                Func::Gt => o == Some(Greater),
                _ => matches!(o, Some(Greater | Equal)),
            })
        }
        Func::In => {
            let v = a0()?;
            if let Some(Arg::Texts(set)) = args.get(1) {
                // Items all texts: only an equal text is in (strict equality).
                return Ok(boolean(
                    matches!(v.as_deref(), Some(Value::String(t)) if set.contains(t)),
                ));
            }
            let c = arg(args, 1, s)?;
            boolean(match c.as_deref() {
                // A text against a list (a reserved-word list, say): texts compared directly.
                Some(Value::Array(items)) => match v.as_deref() {
                    Some(Value::String(t)) => items
                        .iter()
                        .any(|i| matches!(i, Value::String(u) if u == t)),
                    v => items.iter().any(|i| js::same(Some(i), v)),
                },
                Some(Value::Object(m)) => m.contains_key(&js::to_js_string(v.as_deref())),
                _ => false,
            })
        }
        Func::Add => {
            let (a, b) = (a0()?, arg(args, 1, s)?);
            owned(js::add(a.as_deref(), b.as_deref()))
        }
        Func::Sub | Func::Mul | Func::Div | Func::Mod => {
            let (a, b) = (a0()?, arg(args, 1, s)?);
            let (x, y) = (js::to_number(a.as_deref()), js::to_number(b.as_deref()));
            owned(js::num(match f {
                Func::Sub => x - y,
                Func::Mul => x * y,
                Func::Div => x / y,
                _ => x % y,
            }))
        }
        Func::Present => boolean(js::present(a0()?.as_deref())),
        Func::Defined => boolean(js::defined(a0()?.as_deref())),
        Func::NotEmpty => boolean(js::not_empty(a0()?.as_deref())),
        Func::Filled => boolean(js::filled(a0()?.as_deref())),
        // The name made once, not a text per call (`type_of(v) == 'string'` runs for every
        // key of some payloads).
        Func::TypeOf => Some(Cow::Borrowed(js::type_value(a0()?.as_deref()))),
        Func::String => {
            let v = a0()?;
            match v {
                Some(Cow::Borrowed(Value::String(_))) | Some(Cow::Owned(Value::String(_))) => v,
                other => text(js::to_js_string(other.as_deref())),
            }
        }
        Func::Lowercase | Func::Uppercase | Func::Trim => {
            let v = a0()?;
            let Some(t) = string_arg("", v.as_deref())? else {
                return Ok(None);
            };
            // A text the call leaves as it is (ASCII already in its case, nothing to trim)
            // is given back itself, not copied.
            let same = match f {
                Func::Lowercase => t.is_ascii() && !t.bytes().any(|b| b.is_ascii_uppercase()),
                Func::Uppercase => t.is_ascii() && !t.bytes().any(|b| b.is_ascii_lowercase()),
                _ => js::js_trim(t).len() == t.len(),
            };
            if same {
                return Ok(v);
            }
            text(match f {
                Func::Lowercase => t.to_lowercase(),
                Func::Uppercase => t.to_uppercase(),
                _ => js::js_trim(t).to_owned(),
            })
        }
        Func::Split => {
            let (v, sep) = (a0()?, arg(args, 1, s)?);
            match string_arg("split", v.as_deref())? {
                None => None,
                Some(t) => {
                    let sep = js::to_js_string(sep.as_deref());
                    let parts: Vec<Value> = if sep.is_empty() {
                        t.chars()
                            .map(|c| Value::String(c.to_compact_string()))
                            .collect()
                    } else {
                        t.split(sep.as_str())
                            .map(|p| Value::String(Str::from(p)))
                            .collect()
                    };
                    owned(Value::Array(parts))
                }
            }
        }
        Func::Join => {
            let (v, sep) = (a0()?, arg(args, 1, s)?);
            let sep = match sep.as_deref() {
                None => ",".to_owned(),
                other => js::to_js_string(other),
            };
            match list_arg(Func::Join, v.as_deref())? {
                None => None,
                Some(items) => text(
                    items
                        .iter()
                        .map(|i| match i {
                            Value::Null => String::new(),
                            other => js::to_js_string(Some(other)),
                        })
                        .collect::<Vec<_>>()
                        .join(&sep),
                ),
            }
        }
        Func::Replace => {
            let (v, find, with) = (a0()?, arg(args, 1, s)?, arg(args, 2, s)?);
            match string_arg("replace", v.as_deref())? {
                None => None,
                Some(t) => {
                    let find = js::to_js_string(find.as_deref());
                    let with = js::to_js_string(with.as_deref());
                    text(if find.is_empty() {
                        t.to_owned()
                    } else {
                        t.replace(&find, &with)
                    })
                }
            }
        }
        Func::ReplaceRegex => {
            let (v, with) = (a0()?, arg(args, 2, s)?);
            let with = match with.as_deref() {
                Some(Value::String(w)) => Cow::Borrowed(w.as_str()),
                other => Cow::Owned(js::to_js_string(other)),
            };
            let replaced = match string_arg("replace_regex", v.as_deref())? {
                None => return Ok(None),
                Some(t) => match regex_arg(args, 1).replace_all(t, with.as_ref()) {
                    Cow::Owned(r) => r,
                    // Nothing matched: the text itself, not a copy.
                    Cow::Borrowed(_) => return Ok(v),
                },
            };
            text(replaced)
        }
        Func::Matches => {
            let v = a0()?;
            let t = match v.as_deref() {
                Some(Value::String(t)) => Cow::Borrowed(t.as_str()),
                other => Cow::Owned(js::to_js_string(other)),
            };
            boolean(regex_arg(args, 1).is_match(&t))
        }
        Func::Capture => {
            let (v, group) = (a0()?, arg(args, 2, s)?);
            let Some(Value::String(t)) = v.as_deref() else {
                return Ok(None);
            };
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let g = int_arg(group.as_deref(), 1.0).max(0.0) as usize;
            regex_arg(args, 1)
                .captures(t)
                .and_then(|c| c.get(g))
                .map(|m| Cow::Owned(Value::String(Str::from(m.as_str()))))
        }
        Func::StartsWith | Func::EndsWith => {
            let (v, p) = (a0()?, arg(args, 1, s)?);
            let Some(Value::String(t)) = v.as_deref() else {
                return Ok(boolean(false));
            };
            let p = js::to_js_string(p.as_deref());
            boolean(if f == Func::StartsWith {
                t.starts_with(&p)
            } else {
                t.ends_with(&p)
            })
        }
        Func::Contains => {
            let (v, x) = (a0()?, arg(args, 1, s)?);
            boolean(match (v.as_deref(), x.as_deref()) {
                (Some(Value::String(t)), Some(Value::String(n))) => t.contains(n.as_str()),
                (Some(Value::String(t)), other) => t.contains(&js::to_js_string(other)),
                (Some(Value::Array(items)), x) => items.iter().any(|i| js::same(Some(i), x)),
                _ => false,
            })
        }
        Func::Substring => {
            let (v, a, b) = (a0()?, arg(args, 1, s)?, arg(args, 2, s)?);
            match string_arg("substring", v.as_deref())? {
                None => None,
                Some(t) => {
                    let units: Vec<u16> = t.encode_utf16().collect();
                    let len = units.len() as f64;
                    let clamp = |x: f64| if x.is_nan() { 0.0 } else { x.clamp(0.0, len) };
                    let start = clamp(int_arg(a.as_deref(), 0.0));
                    let end = clamp(int_arg(b.as_deref(), len));
                    let (lo, hi) = if start <= end {
                        (start, end)
                    } else {
                        (end, start)
                    };
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    text(String::from_utf16_lossy(&units[lo as usize..hi as usize]))
                }
            }
        }
        Func::Length => match a0()?.as_deref() {
            Some(Value::String(t)) => owned(Value::from(t.encode_utf16().count())),
            Some(Value::Array(a)) => owned(Value::from(a.len())),
            Some(Value::Object(m)) => owned(Value::from(m.len())),
            _ => None,
        },
        Func::Json => match a0()? {
            None => None,
            Some(v) => text(crate::protocol::json::to_js_string(&v)),
        },
        Func::ToText => match a0()? {
            None => None,
            Some(Cow::Owned(Value::String(t))) => text(t.into()),
            Some(v @ Cow::Borrowed(Value::String(_))) => Some(v),
            Some(v) => text(crate::protocol::json::to_js_string(&v)),
        },
        Func::ParseJson => match a0()?.as_deref() {
            Some(Value::String(t)) => serde_json::from_str::<Value>(t).ok().map(Cow::Owned),
            _ => None,
        },
        Func::UrlEncode => text(url_encode(&js::to_js_string(a0()?.as_deref()))),
        Func::QueryString => match a0()?.as_deref() {
            Some(Value::Object(m)) => text(
                m.iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| {
                        format!(
                            "{}={}",
                            url_encode(k),
                            url_encode(&js::to_js_string(Some(v)))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("&"),
            ),
            None | Some(Value::Null) => None,
            other => return Err(wrong("query_string", "an object", other)),
        },
        Func::Base64 => match a0()?.as_deref() {
            None | Some(Value::Null) => None,
            v => text(base64(js::to_js_string(v).as_bytes())),
        },
        Func::Xml => {
            let (v, root) = (a0()?, arg(args, 1, s)?);
            let root = match root.as_deref() {
                None => "root".to_owned(),
                other => js::to_js_string(other),
            };
            let Some(v) = v else {
                return Ok(None);
            };
            let mut m = Map::new();
            m.insert(root.into(), v.into_owned());
            let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>");
            out.push_str(&xml::build(&m).1);
            text(out)
        }
        Func::Sha256 | Func::Sha1 | Func::Md5 => {
            let v = a0()?;
            if !js::truthy(v.as_deref()) {
                return Ok(None);
            }
            let input = match v.as_deref() {
                Some(Value::String(t)) => Cow::Borrowed(t.as_str()),
                other => Cow::Owned(js::to_js_string(other)),
            };
            let bytes: Cow<'_, [u8]> = match arg(args, 1, s)?.as_deref() {
                None => Cow::Borrowed(input.as_bytes()),
                Some(Value::String(e)) if e == "utf8" => Cow::Borrowed(input.as_bytes()),
                // ASCII is its own latin1.
                Some(Value::String(e)) if e == "latin1" && input.is_ascii() => {
                    Cow::Borrowed(input.as_bytes())
                }
                // The low byte of each UTF-16 unit, as JavaScript code that hashes
                // `charCodeAt(i) & 0xff` does.
                #[allow(clippy::cast_possible_truncation)]
                Some(Value::String(e)) if e == "latin1" => {
                    Cow::Owned(input.encode_utf16().map(|u| u as u8).collect())
                }
                other => {
                    let name = crate::registry::of(f).name;
                    return Err(wrong(name, "'utf8' or 'latin1' as the encoding", other));
                }
            };
            text(if f == Func::Sha256 {
                use sha2::Digest;
                hex(&sha2::Sha256::digest(&bytes))
            } else if f == Func::Sha1 {
                use sha1::Digest;
                hex(&sha1::Sha1::digest(&bytes))
            } else {
                use md5::Digest;
                hex(&md5::Md5::digest(&bytes))
            })
        }
        Func::Number => owned(js::num(js::to_number(a0()?.as_deref()))),
        Func::ParseFloat => owned(js::num(parse_float(&js::to_js_string(a0()?.as_deref())))),
        Func::ParseInt => {
            let (v, radix) = (a0()?, arg(args, 1, s)?);
            let r = int_arg(radix.as_deref(), 10.0);
            owned(js::num(parse_int(&js::to_js_string(v.as_deref()), r)))
        }
        Func::Round | Func::Floor | Func::Ceil | Func::Abs => {
            let x = js::to_number(a0()?.as_deref());
            owned(js::num(match f {
                Func::Round => {
                    let fl = x.floor();
                    if x - fl >= 0.5 { fl + 1.0 } else { fl }
                }
                Func::Floor => x.floor(),
                Func::Ceil => x.ceil(),
                _ => x.abs(),
            }))
        }
        Func::ToFixed => {
            let (v, d) = (a0()?, arg(args, 1, s)?);
            let digits = int_arg(d.as_deref(), 0.0).clamp(0.0, 100.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            text(to_fixed(js::to_number(v.as_deref()), digits as usize))
        }
        Func::Sum => {
            let v = a0()?;
            let Some(Value::Array(items)) = v.as_deref() else {
                return Ok(owned(Value::from(0)));
            };
            if items.is_empty() {
                return Ok(owned(Value::from(0)));
            }
            let mut acc: Option<Value> = None;
            for i in items {
                acc = Some(match acc {
                    None => i.clone(),
                    Some(a) => js::add(Some(&a), Some(i)),
                });
            }
            acc.map(Cow::Owned)
        }
        Func::Min | Func::Max => {
            let v = a0()?;
            let items = list_arg(f, v.as_deref())?.unwrap_or(&[]);
            let mut acc = if f == Func::Min {
                f64::INFINITY
            } else {
                f64::NEG_INFINITY
            };
            for i in items {
                let n = js::to_number(Some(i));
                if n.is_nan() {
                    acc = f64::NAN;
                    break;
                }
                acc = if f == Func::Min {
                    acc.min(n)
                } else {
                    acc.max(n)
                };
            }
            owned(js::num(acc))
        }
        Func::Map | Func::Filter | Func::Find | Func::Some | Func::Every | Func::FlatMap => {
            let Some(items) = list_items(f, args, s)? else {
                return Ok(match f {
                    Func::Some => boolean(false),
                    Func::Every => boolean(true),
                    _ => None,
                });
            };
            let (slots, body) = lambda_arg(args, 1);
            let mut out = Vec::new();
            for (i, item) in items.into_iter().enumerate() {
                // `x => ...`: the index is not bound, so not made.
                let idx = if slots.len() < 2 {
                    Value::Null
                } else {
                    Value::from(i)
                };
                if matches!(f, Func::Filter | Func::Find | Func::Some | Func::Every) {
                    // A condition: its value is not kept.
                    let yes = test(slots, body, &item, &idx, s)?;
                    match f {
                        Func::Filter if yes => out.push(item.into_owned()),
                        Func::Find if yes => return Ok(Some(item)),
                        Func::Some if yes => return Ok(boolean(true)),
                        Func::Every if !yes => return Ok(boolean(false)),
                        _ => {}
                    }
                    continue;
                }
                let r = apply(slots, body, &item, &idx, s)?;
                match f {
                    Func::Map => out.push(r.unwrap_or(Value::Null)),
                    Func::FlatMap => match r {
                        Some(Value::Array(a)) => out.extend(a),
                        other => out.push(other.unwrap_or(Value::Null)),
                    },
                    _ => unreachable!("conditions are tested above"),
                }
            }
            match f {
                Func::Find => None,
                Func::Some => boolean(false),
                Func::Every => boolean(true),
                _ => owned(Value::Array(out)),
            }
        }
        Func::Unique => {
            let v = a0()?;
            let Some(items) = list_arg(Func::Unique, v.as_deref())? else {
                return Ok(None);
            };
            let mut out: Vec<Value> = Vec::new();
            for i in items {
                if !out.iter().any(|o| js::same(Some(o), Some(i))) {
                    out.push(i.clone());
                }
            }
            owned(Value::Array(out))
        }
        Func::Flat => {
            let v = a0()?;
            let Some(items) = list_arg(Func::Flat, v.as_deref())? else {
                return Ok(None);
            };
            let mut out = Vec::new();
            for i in items {
                match i {
                    Value::Array(a) => out.extend(a.iter().cloned()),
                    other => out.push(other.clone()),
                }
            }
            owned(Value::Array(out))
        }
        Func::First | Func::Last => {
            let v = a0()?;
            let Some(items) = list_arg(f, v.as_deref())? else {
                return Ok(None);
            };
            let pick = if f == Func::First {
                items.first()
            } else {
                items.last()
            };
            pick.cloned().map(Cow::Owned)
        }
        Func::Chunk => {
            let (v, n) = (a0()?, arg(args, 1, s)?);
            let Some(items) = list_arg(Func::Chunk, v.as_deref())? else {
                return Ok(owned(Value::Array(Vec::new())));
            };
            let size = int_arg(n.as_deref(), 1.0);
            if size < 1.0 {
                return Ok(owned(Value::Array(Vec::new())));
            }
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let size = size.min(1e9) as usize;
            owned(Value::Array(
                items
                    .chunks(size)
                    .map(|c| Value::Array(c.to_vec()))
                    .collect(),
            ))
        }
        Func::Concat => {
            let mut out = Vec::new();
            for i in 0..args.len() {
                match arg(args, i, s)?.map(Cow::into_owned) {
                    None => {}
                    Some(Value::Array(a)) => out.extend(a),
                    Some(other) => out.push(other),
                }
            }
            owned(Value::Array(out))
        }
        Func::ToList => match a0()? {
            None => None,
            Some(v) if v.is_null() => None,
            Some(v) if v.is_array() => Some(v),
            Some(v) => owned(Value::Array(vec![v.into_owned()])),
        },
        Func::Slice => {
            let (v, a, b) = (a0()?, arg(args, 1, s)?, arg(args, 2, s)?);
            let range = |len: usize| {
                let len = len as f64;
                let norm = |x: f64| {
                    if x < 0.0 {
                        (len + x).max(0.0)
                    } else {
                        x.min(len)
                    }
                };
                let start = norm(int_arg(a.as_deref(), 0.0));
                let end = norm(int_arg(b.as_deref(), len));
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                (start as usize, (end.max(start)) as usize)
            };
            match v.as_deref() {
                Some(Value::Array(items)) => {
                    let (lo, hi) = range(items.len());
                    owned(Value::Array(items[lo..hi].to_vec()))
                }
                Some(Value::String(t)) => {
                    let units: Vec<u16> = t.encode_utf16().collect();
                    let (lo, hi) = range(units.len());
                    text(String::from_utf16_lossy(&units[lo..hi]))
                }
                None | Some(Value::Null) => None,
                other => return Err(wrong("slice", "a list or a string", other)),
            }
        }
        Func::Keys | Func::Values | Func::Entries => {
            let v = a0()?;
            let pairs = ordered_pairs(v.as_deref());
            owned(Value::Array(
                pairs
                    .into_iter()
                    .map(|(k, v)| match f {
                        Func::Keys => Value::String(k),
                        Func::Values => v,
                        _ => Value::Array(vec![Value::String(k), v]),
                    })
                    .collect(),
            ))
        }
        Func::FromEntries => {
            let v = a0()?;
            let Some(items) = list_arg(Func::FromEntries, v.as_deref())? else {
                return Ok(None);
            };
            let mut m = Map::new();
            for pair in items {
                let (k, v) = match pair {
                    Value::Array(kv) => (kv.first(), kv.get(1)),
                    _ => (None, None),
                };
                *js::object_slot(&mut m, &js::to_js_string(k)) = v.cloned().unwrap_or(Value::Null);
            }
            owned(Value::Object(m))
        }
        Func::Pick => {
            let (v, keys) = (a0()?, arg(args, 1, s)?);
            let Some(Value::Object(m)) = v.as_deref() else {
                return Ok(owned(Value::Object(Map::new())));
            };
            let mut out = Map::new();
            for k in key_list(keys.as_deref()) {
                if let Some(x) = m.get(&k) {
                    out.insert(k.into(), x.clone());
                }
            }
            owned(Value::Object(out))
        }
        Func::Omit => {
            let (v, keys) = (a0()?, arg(args, 1, s)?);
            let keys = key_strs(keys.as_deref());
            match v {
                None | Some(Cow::Borrowed(Value::Null)) => None,
                Some(Cow::Borrowed(Value::Object(o))) => owned(Value::Object(
                    o.iter()
                        .filter(|(k, _)| !keys.iter().any(|x| x == k.as_str()))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect(),
                )),
                Some(v) => {
                    let v = v.into_owned();
                    if v.is_null() {
                        return Ok(None);
                    }
                    let mut m = Map::new();
                    spread_into(&mut m, v);
                    m.retain(|k, _| !keys.iter().any(|x| x == k.as_str()));
                    owned(Value::Object(m))
                }
            }
        }
        Func::Merge => {
            let mut out = Value::Object(Map::new());
            for i in 0..args.len() {
                if let Some(v) = arg(args, i, s)?
                    && matches!(v.as_ref(), Value::Object(_) | Value::Array(_))
                {
                    js::merge(&mut out, v.into_owned());
                }
            }
            owned(out)
        }
        Func::Flatten => {
            let (v, sep) = (a0()?, arg(args, 1, s)?);
            let sep = match sep.as_deref() {
                None => ".".to_owned(),
                other => js::to_js_string(other),
            };
            let mut out = Map::new();
            match v.as_deref() {
                None => {}
                Some(v) => flatten(v, &mut String::new(), &sep, &mut out),
            }
            owned(Value::Object(out))
        }
        Func::Clean => {
            let (v, mode) = (a0()?, arg(args, 1, s)?);
            let mode = match mode.as_deref() {
                None => "top_nulls".to_owned(),
                other => js::to_js_string(other),
            };
            owned(clean(v.map(Cow::into_owned), &mode)?)
        }
        Func::RenameKeys => {
            let (v, names) = (a0()?, arg(args, 1, s)?);
            let names = names.as_deref();
            let mut out = Map::new();
            for (k, x) in ordered_pairs(v.as_deref()) {
                let to = names
                    .and_then(|n| n.get(&k))
                    .filter(|t| js::truthy(Some(t)))
                    .map_or(k, |t| js::to_js_string(Some(t)).into());
                *js::object_slot(&mut out, &to) = x;
            }
            owned(Value::Object(out))
        }
        Func::MapKeysDeep => {
            let v = a0()?;
            let (slots, body) = lambda_arg(args, 1);
            fn deep(
                v: &Value,
                slots: &[usize],
                body: &Expr,
                s: &Scope<'_>,
            ) -> Result<Value, Failure> {
                Ok(match v {
                    Value::Array(a) => Value::Array(
                        a.iter()
                            .map(|x| deep(x, slots, body, s))
                            .collect::<Result<_, _>>()?,
                    ),
                    Value::Object(m) => {
                        let mut out = Map::new();
                        for (k, x) in ordered_pairs(Some(v)) {
                            let _ = m;
                            let key = apply(slots, body, &Value::String(k), &x, s)?;
                            *js::object_slot(&mut out, &js::to_js_string(key.as_ref())) =
                                deep(&x, slots, body, s)?;
                        }
                        Value::Object(out)
                    }
                    other => other.clone(),
                })
            }
            match v {
                None => None,
                Some(v) => owned(deep(&v, slots, body, s)?),
            }
        }
        Func::MapValues | Func::MapKeys | Func::FilterKeys => {
            let v = a0()?;
            let (slots, body) = lambda_arg(args, 1);
            // A value made by an inner call is taken apart, not copied.
            let pairs = match v {
                Some(Cow::Owned(v)) => ordered_pairs_owned(v),
                v => ordered_pairs(v.as_deref()),
            };
            let mut out = Map::with_capacity(pairs.len());
            for (k, x) in pairs {
                match f {
                    // The keys are those of one object, each once: appended as they come. A
                    // value the lambda gives back unchanged is moved, not copied.
                    Func::MapValues => {
                        // `v => ...` over values: the key is not bound, so not made.
                        let key = if slots.len() < 2 {
                            Value::Null
                        } else {
                            Value::String(k.clone())
                        };
                        let r = apply_with(slots, body, &x, &key, s, |v| match v {
                            Some(Cow::Borrowed(p)) if std::ptr::eq(p, &x) => None,
                            v => Some(v.map(Cow::into_owned)),
                        })?;
                        match r {
                            None => out.insert(k, x),
                            Some(Some(r)) => out.insert(k, r),
                            Some(None) => None,
                        };
                    }
                    // The new key as text: the old one moved back when the lambda gives it
                    // back unchanged, else copied once at most.
                    Func::MapKeys => {
                        let key = Value::String(k);
                        let name = apply_with(slots, body, &key, &x, s, |v| match v {
                            Some(Cow::Borrowed(p)) if std::ptr::eq(p, &key) => None,
                            Some(Cow::Owned(Value::String(t))) => Some(t),
                            v => Some(js::to_js_string(v.as_deref()).into()),
                        })?;
                        out.insert(name.unwrap_or_else(|| into_text(key)), x);
                    }
                    _ => {
                        let key = Value::String(k);
                        if test(slots, body, &key, &x, s)? {
                            out.insert(into_text(key), x);
                        }
                    }
                }
            }
            owned(Value::Object(out))
        }
        Func::Get => {
            let (v, p) = (a0()?, arg(args, 1, s)?);
            let (Some(v), Some(Value::String(p))) = (v, p.as_deref()) else {
                return Ok(None);
            };
            let segs: Vec<Box<str>> = p.split('.').map(Box::from).collect();
            js::get(&v, p, &segs).cloned().map(Cow::Owned)
        }
        Func::Unset => {
            let (v, paths) = (a0()?, arg(args, 1, s)?);
            let Some(v) = v else {
                return Ok(None);
            };
            let mut v = v.into_owned();
            for p in key_list(paths.as_deref()) {
                let segs: Vec<Box<str>> = p.split('.').map(Box::from).collect();
                if js::get(&v, &p, &segs).is_some() {
                    js::unset(&mut v, &p, &segs);
                }
            }
            owned(v)
        }
        Func::CopyKeys => {
            let except = arg(args, 1, s)?;
            let except = key_strs(except.as_deref());
            let sources: Vec<Option<Cow<'_, Value>>> = match list_items(Func::CopyKeys, args, s) {
                Ok(Some(items)) => items.into_iter().map(Some).collect(),
                Ok(None) => Vec::new(),
                Err(_) => vec![arg(args, 0, s)?],
            };
            owned(copy_keys(&sources, &except)?)
        }
        Func::RowsToObject => rows_to_object(args, s)?,
        Func::ExternalId => {
            let t = a0()?;
            let found = match s.message.get("context").and_then(|c| c.get("externalId")) {
                Some(Value::Array(ids)) => ids
                    .iter()
                    .find(|e| js::same(e.get("type"), t.as_deref()) && e.get("type").is_some()),
                _ => None,
            };
            match found {
                Some(e) => e.get("id").cloned().map(Cow::Owned),
                None => owned(Value::Null),
            }
        }
        Func::Now => text(dates::iso(s.now_ms as f64).unwrap_or_default()),
        Func::RandomHex => {
            let n = arg(args, 0, s)?;
            let n = int_arg(n.as_deref(), 16.0).clamp(0.0, 1024.0);
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            text(hex(&s.env.random_bytes(n as usize)))
        }
        Func::Uuid => {
            let mut b = s.env.random_bytes(16);
            b[6] = (b[6] & 0x0f) | 0x40;
            b[8] = (b[8] & 0x3f) | 0x80;
            let h = hex(&b);
            text(format!(
                "{}-{}-{}-{}-{}",
                &h[..8],
                &h[8..12],
                &h[12..16],
                &h[16..20],
                &h[20..]
            ))
        }
        Func::SizeOf => match a0()?.as_deref() {
            None => owned(Value::from(0)),
            Some(v) => owned(js::num(crate::protocol::router::size_of(v))),
        },
        Func::ToMillis | Func::ToSeconds | Func::ToIso => {
            let v = a0()?;
            match dates::parse(v.as_deref()) {
                None => None,
                Some(ms) => match f {
                    Func::ToMillis => owned(js::num(ms)),
                    Func::ToSeconds => owned(js::num((ms / 1000.0).floor())),
                    _ => dates::iso(ms).map(|t| Cow::Owned(Value::String(t.into()))),
                },
            }
        }
        Func::FormatDate => {
            let (v, p) = (a0()?, arg(args, 1, s)?);
            let pattern = js::to_js_string(p.as_deref());
            dates::parse(v.as_deref())
                .and_then(|ms| dates::format(ms, &pattern))
                .map(|t| Cow::Owned(Value::String(t.into())))
        }
    })
}

/// The keys and values of a value as `Object.entries` gives them, in JavaScript's order.
/// [`ordered_pairs`] of a value this call owns: its keys and values moved, not copied.
fn ordered_pairs_owned(v: Value) -> Vec<(Str, Value)> {
    match v {
        Value::Object(m) => {
            let mut ints: Vec<(u64, Str, Value)> = Vec::new();
            let mut rest = Vec::with_capacity(m.len());
            for (k, v) in m {
                match js::array_index(&k) {
                    Some(i) if k.len() < 10 => ints.push((i as u64, k, v)),
                    _ => rest.push((k, v)),
                }
            }
            if ints.is_empty() {
                return rest;
            }
            ints.sort_by_key(|(i, _, _)| *i);
            ints.into_iter()
                .map(|(_, k, v)| (k, v))
                .chain(rest)
                .collect()
        }
        other => ordered_pairs(Some(&other)),
    }
}

fn ordered_pairs(v: Option<&Value>) -> Vec<(Str, Value)> {
    match v {
        Some(Value::Object(m)) => {
            let mut ints: Vec<(u64, &Str, &Value)> = Vec::new();
            let mut rest = Vec::new();
            for (k, v) in m {
                match js::array_index(k) {
                    Some(i) if k.len() < 10 => ints.push((i as u64, k, v)),
                    _ => rest.push((k.clone(), v.clone())),
                }
            }
            ints.sort_by_key(|(i, _, _)| *i);
            ints.into_iter()
                .map(|(_, k, v)| (k.clone(), v.clone()))
                .chain(rest)
                .collect()
        }
        Some(Value::Array(a)) => a
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_compact_string(), v.clone()))
            .collect(),
        Some(Value::String(t)) => t
            .encode_utf16()
            .enumerate()
            .map(|(i, u)| {
                (
                    i.to_compact_string(),
                    Value::String(String::from_utf16_lossy(&[u]).into()),
                )
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// Key names given as a list of texts, borrowed.
fn key_strs(v: Option<&Value>) -> Vec<Cow<'_, str>> {
    match v {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(t) => Cow::Borrowed(t.as_str()),
                other => Cow::Owned(js::to_js_string(Some(other))),
            })
            .collect(),
        Some(Value::String(t)) => vec![Cow::Borrowed(t.as_str())],
        _ => Vec::new(),
    }
}

fn key_list(v: Option<&Value>) -> Vec<String> {
    match v {
        Some(Value::Array(items)) => items.iter().map(|i| js::to_js_string(Some(i))).collect(),
        Some(Value::String(s)) => vec![s.as_str().to_owned()],
        _ => Vec::new(),
    }
}

/// fast-xml-parser's builder (`ignoreAttributes: false`, `suppressEmptyNode: true`).
mod xml {
    use crate::value::{Map, Value};

    use super::js;

    fn escape(t: &str) -> String {
        t.replace('&', "&amp;")
            .replace('>', "&gt;")
            .replace('<', "&lt;")
            .replace('\'', "&apos;")
            .replace('"', "&quot;")
    }

    fn text(v: &Value) -> String {
        js::to_js_string(Some(v))
    }

    fn text_node(v: &Value, key: &str, attrs: &str) -> String {
        let t = match v {
            Value::String(s) => escape(s),
            other => text(other),
        };
        if t.is_empty() {
            format!("<{key}{attrs}/>")
        } else {
            format!("<{key}{attrs}>{t}</{key}>")
        }
    }

    fn object_node(m: &Map, key: &str) -> String {
        let (attrs, val) = build(m);
        if m.len() == 1
            && let Some(t) = m.get("#text")
        {
            return text_node(t, key, &attrs);
        }
        if val.is_empty() {
            format!("<{key}{attrs}/>")
        } else {
            format!("<{key}{attrs}>{val}</{key}>")
        }
    }

    /// The attributes and the content an object's members make.
    pub fn build(m: &Map) -> (String, String) {
        let (mut attrs, mut val) = (String::new(), String::new());
        for (key, v) in crate::protocol::json::js_order(m) {
            let attr = key.strip_prefix("@_").filter(|_| key != "#text");
            match v {
                Value::Null => {
                    if attr.is_none() {
                        val.push_str(&format!("<{key}/>"));
                    }
                }
                Value::Array(items) => {
                    for item in items {
                        match item {
                            Value::Null => val.push_str(&format!("<{key}/>")),
                            Value::Object(o) => val.push_str(&object_node(o, key)),
                            Value::Array(_) => {
                                let mut wrap = Map::new();
                                wrap.insert(key.clone(), item.clone());
                                val.push_str(&build(&wrap).1);
                            }
                            other => val.push_str(&text_node(other, key, "")),
                        }
                    }
                }
                Value::Object(o) => val.push_str(&object_node(o, key)),
                other => match attr {
                    Some(name) => {
                        let t = match other {
                            Value::String(s) => escape(s),
                            o => text(o),
                        };
                        if t == "true" {
                            attrs.push_str(&format!(" {name}"));
                        } else {
                            attrs.push_str(&format!(" {name}=\"{t}\""));
                        }
                    }
                    None if key == "#text" => val.push_str(&match other {
                        Value::String(s) => escape(s),
                        o => text(o),
                    }),
                    None => val.push_str(&text_node(other, key, "")),
                },
            }
        }
        (attrs, val)
    }
}

/// `encodeURIComponent`.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
            out.push(b as char);
        } else {
            const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
            out.push('%');
            out.push(char::from(DIGITS[usize::from(b >> 4)]));
            out.push(char::from(DIGITS[usize::from(b & 15)]));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

pub fn base64(bytes: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if c.len() > 1 {
            T[(n >> 6) as usize & 63] as char
        } else {
            '='
        });
        out.push(if c.len() > 2 {
            T[n as usize & 63] as char
        } else {
            '='
        });
    }
    out
}

/// `parseFloat`.
pub fn parse_float(s: &str) -> f64 {
    let t = s.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let b = t.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        i += 1;
    }
    if t[i..].starts_with("Infinity") {
        return if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    let digits_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut any = i > digits_start;
    if i < b.len() && b[i] == b'.' {
        let frac_start = i + 1;
        let mut j = frac_start;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > frac_start || any {
            any |= j > frac_start;
            i = j;
        }
    }
    if !any {
        return f64::NAN;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let exp_start = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > exp_start {
            i = j;
        }
    }
    t[..i]
        .trim_end_matches('.')
        .parse::<f64>()
        .unwrap_or(f64::NAN)
}

/// `parseInt`.
pub fn parse_int(s: &str, radix: f64) -> f64 {
    let t = s.trim_start_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    let (neg, mut t) = match t.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mut r = radix as u32;
    if r == 0 {
        r = 10;
    }
    if !(2..=36).contains(&r) {
        return f64::NAN;
    }
    if (r == 16 || radix == 0.0) && (t.starts_with("0x") || t.starts_with("0X")) {
        t = &t[2..];
        r = 16;
    }
    let mut acc = 0.0f64;
    let mut any = false;
    for c in t.chars() {
        match c.to_digit(r) {
            Some(d) => {
                acc = acc * f64::from(r) + f64::from(d);
                any = true;
            }
            None => break,
        }
    }
    if !any {
        return f64::NAN;
    }
    if neg { -acc } else { acc }
}

/// `Number.prototype.toFixed`: the exact value of the double, rounded half up at `digits`.
pub fn to_fixed(x: f64, digits: usize) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.abs() >= 1e21 || x.is_infinite() {
        return js::number_to_js(x);
    }
    // Rust writes the exact binary value with as many digits as asked.
    let exact = format!("{:.*}", digits + 1100, x.abs());
    let (int_part, frac) = exact.split_once('.').unwrap_or((&exact, ""));
    let mut keep: Vec<u8> = int_part.bytes().chain(frac.bytes().take(digits)).collect();
    if frac.as_bytes().get(digits).is_some_and(|d| *d >= b'5') {
        let mut i = keep.len();
        loop {
            if i == 0 {
                keep.insert(0, b'1');
                break;
            }
            i -= 1;
            if keep[i] == b'9' {
                keep[i] = b'0';
            } else {
                keep[i] += 1;
                break;
            }
        }
    }
    let int_len = keep.len() - digits;
    let mut out = String::new();
    let negative = x < 0.0 && keep.iter().any(|d| *d != b'0');
    if negative {
        out.push('-');
    }
    out.push_str(std::str::from_utf8(&keep[..int_len]).unwrap_or("0"));
    if digits > 0 {
        out.push('.');
        out.push_str(std::str::from_utf8(&keep[int_len..]).unwrap_or(""));
    }
    out
}

/// The reference's `flattenJson` (arrays flattened as `key[i]`).
fn flatten(v: &Value, prop: &mut String, sep: &str, out: &mut Map) {
    let len = prop.len();
    match v {
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let _ = write!(prop, "[{i}]");
                flatten(x, prop, sep, out);
                prop.truncate(len);
            }
            if a.is_empty() {
                *js::object_slot(out, prop) = Value::Array(Vec::new());
            }
        }
        Value::Object(m) => {
            for (k, x) in m {
                if len > 0 {
                    prop.push_str(sep);
                }
                prop.push_str(k);
                flatten(x, prop, sep, out);
                prop.truncate(len);
            }
            if m.is_empty() && len > 0 {
                *js::object_slot(out, prop) = Value::Object(Map::new());
            }
        }
        other => *js::object_slot(out, prop) = other.clone(),
    }
}

fn clean(v: Option<Value>, mode: &str) -> Result<Value, Failure> {
    let top = |v: Option<Value>, keep: &dyn Fn(&Value) -> bool| {
        let mut m = Map::new();
        if let Some(v) = v {
            spread_into(&mut m, v);
        }
        m.retain(|_, x| keep(x));
        Value::Object(m)
    };
    Ok(match mode {
        "top_nulls" => top(v, &|x| !x.is_null()),
        "top_blanks" => top(v, &|x| js::filled(Some(x))),
        "deep" => match v {
            None => Value::Object(Map::new()),
            Some(v) => js::clean_deep(v).unwrap_or_else(|| Value::Object(Map::new())),
        },
        "deep_nulls" => {
            fn strip(v: &mut Value) {
                match v {
                    Value::Object(m) => {
                        m.retain(|_, x| !x.is_null());
                        m.values_mut().for_each(strip);
                    }
                    Value::Array(a) => a.iter_mut().for_each(strip),
                    _ => {}
                }
            }
            let mut v = v.unwrap_or(Value::Null);
            strip(&mut v);
            v
        }
        other => {
            return Err(Failure::instrumentation(format!(
                "clean: unknown mode `{other}` (top_nulls, top_blanks, deep, deep_nulls)"
            )));
        }
    })
}

fn rows_to_object<'a>(args: &'a [Arg], s: &Scope<'a>) -> Result<Val<'a>, Failure> {
    Ok(owned(rows_scan(args, s, None)?.unwrap_or(Value::Null)))
}

/// `rows_to_object(...)[key]`, without building the object.
pub fn rows_lookup<'a>(args: &'a [Arg], s: &Scope<'a>, key: &str) -> Result<Val<'a>, Failure> {
    Ok(rows_scan(args, s, Some(key))?.map(Cow::Owned))
}

/// Reads config rows into an object, or (given `only`) just the value of one key.
fn rows_scan<'a>(
    args: &'a [Arg],
    s: &Scope<'a>,
    only: Option<&str>,
) -> Result<Option<Value>, Failure> {
    let rows = arg(args, 0, s)?;
    let name = |i: usize, d: &str| -> Result<String, Failure> {
        Ok(match arg(args, i, s)?.as_deref() {
            None => d.to_owned(),
            other => js::to_js_string(other),
        })
    };
    let flag = |i: usize, d: bool| -> Result<bool, Failure> {
        Ok(match arg(args, i, s)?.as_deref() {
            None => d,
            other => js::truthy(other),
        })
    };
    let (from, to) = (name(1, "from")?, name(2, "to")?);
    let (lowercase, trim, all) = (flag(3, true)?, flag(4, false)?, flag(5, false)?);
    let mut out = Map::new();
    let mut found: Option<Value> = None;
    let Some(Value::Array(rows)) = rows.as_deref() else {
        return Ok(only.is_none().then(|| Value::Object(out)));
    };
    for row in rows {
        let k = match row.get(&from) {
            None | Some(Value::Null) => continue,
            Some(Value::String(k)) => Cow::Borrowed(k.as_str()),
            // A `from` that is not text counts as its text (JavaScript would throw on it).
            other => Cow::Owned(js::to_js_string(other)),
        };
        // lodash isEmpty(String(x).trim()): blank rows are skipped.
        if js::js_trim(&k).is_empty() {
            continue;
        }
        let k = if lowercase {
            Cow::Owned(k.to_lowercase())
        } else {
            k
        };
        let k = if trim {
            Cow::Borrowed(js::js_trim(&k))
        } else {
            Cow::Borrowed(k.as_ref())
        };
        if only.is_some_and(|o| o != k.as_ref()) {
            continue;
        }
        let v = row.get(&to).cloned().unwrap_or(Value::Null);
        let slot = match only {
            Some(_) => found.get_or_insert(Value::Null),
            None => js::object_slot(&mut out, &k),
        };
        if all {
            match slot {
                Value::Array(list) => {
                    if !list.iter().any(|x| js::same(Some(x), Some(&v))) {
                        list.push(v);
                    }
                }
                _ => *slot = Value::Array(vec![v]),
            }
        } else {
            *slot = v;
        }
    }
    Ok(match only {
        Some(_) => found,
        None => Some(Value::Object(out)),
    })
}

const RESERVED: [&str; 3] = ["__proto__", "constructor", "prototype"];

/// The keys a source offers, as `Object.keys` lists them.
fn keys_of(v: &Value) -> Vec<Str> {
    match v {
        Value::Object(m) => m.keys().cloned().collect(),
        Value::Array(a) => (0..a.len()).map(|i| i.to_compact_string()).collect(),
        Value::String(t) => (0..t.encode_utf16().count())
            .map(|i| i.to_compact_string())
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
pub fn copy_keys(sources: &[Val<'_>], except: &[Cow<'_, str>]) -> Result<Value, Failure> {
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
    let mut keys: Vec<Str> = Vec::new();
    let mut seen: std::collections::HashSet<Str> = std::collections::HashSet::new();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_fixed_rounds_the_exact_value_half_up() {
        assert_eq!(to_fixed(1.005, 2), "1.00");
        assert_eq!(to_fixed(1.255, 2), "1.25");
        assert_eq!(to_fixed(0.125, 2), "0.13");
        assert_eq!(to_fixed(-0.125, 2), "-0.13");
        assert_eq!(to_fixed(12.345, 2), "12.35");
        assert_eq!(to_fixed(9.995, 2), "9.99");
        assert_eq!(to_fixed(99.5, 0), "100");
        assert_eq!(to_fixed(-0.0001, 2), "0.00");
        assert_eq!(to_fixed(f64::NAN, 2), "NaN");
        assert_eq!(to_fixed(3.0, 2), "3.00");
    }

    #[test]
    fn number_readers_are_javascripts() {
        assert_eq!(parse_float("  12.5px"), 12.5);
        assert!(parse_float("px").is_nan());
        assert_eq!(parse_float("-.5e1x"), -5.0);
        assert_eq!(parse_float("5."), 5.0);
        assert_eq!(parse_int("42.9", 10.0), 42.0);
        assert_eq!(parse_int("0x1f", 16.0), 31.0);
        assert!(parse_int("x", 10.0).is_nan());
        assert_eq!(url_encode("a b&c/é~"), "a%20b%26c%2F%C3%A9~");
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
    }
}
