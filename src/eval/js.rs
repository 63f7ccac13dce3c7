//! Evaluation helpers: the JavaScript value semantics the reference transformer's answers
//! depend on (truthiness, emptiness, `get-value` / `set-value` paths, lodash `merge`, the two
//! cleaning policies, `Number#toString`). Pure functions over `crate::value::Value`.

use std::sync::LazyLock;

use crate::value::{Map, Number, PathStart, Str, Value};

/// Longest array an index written by a path may create; past it a write is refused rather
/// than filling memory with holes.
pub const MAX_ARRAY_INDEX: usize = 10_000;

/// Most keys one write may nest (a key `a.b.c...` from an event nests one level per dot);
/// past it the write is refused, so no event can build an object deep enough to exhaust a
/// thread's stack when it is cleaned, merged or written.
pub const MAX_PATH_DEPTH: usize = 100;

/// Whether a value is NaN.
pub fn is_nan(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Number(n)) if num_f64(n).is_some_and(f64::is_nan))
}

/// JavaScript truthiness; `None` is `undefined`.
pub fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => num_f64(n).is_some_and(|f| f != 0.0 && !f.is_nan()),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// The reference's "has a value" test for mapped fields: truthy, or `0`, or `false`.
/// So only `undefined`, `null` and `""` are absent.
pub fn present(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(_)) => !is_nan(v),
        _ => true,
    }
}

/// Not `undefined` and not `null`.
pub fn defined(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Null))
}

/// lodash `!isEmpty`: a non-empty string, array or object. Numbers and booleans are empty.
pub fn not_empty(v: Option<&Value>) -> bool {
    match v {
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        _ => false,
    }
}

/// `isDefinedNotNullNotEmpty`: not null, not an empty object or array, not a blank string;
/// numbers and booleans count as filled.
pub fn filled(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !js_trim(s).is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Number(n)) => !num_f64(n).is_some_and(f64::is_nan),
        Some(Value::Bool(_)) => true,
    }
}

/// The type name JavaScript's `typeof` gives, with `null` and arrays told apart.
pub fn type_name(v: Option<&Value>) -> &'static str {
    TYPE_NAMES[type_index(v)]
}

/// [`type_name`] as a value, made once.
pub fn type_value(v: Option<&Value>) -> &'static Value {
    static VALUES: LazyLock<[Value; 7]> =
        LazyLock::new(|| TYPE_NAMES.map(|n| Value::String(Str::from(n))));
    &VALUES[type_index(v)]
}

const TYPE_NAMES: [&str; 7] = [
    "undefined",
    "null",
    "boolean",
    "number",
    "string",
    "array",
    "object",
];

fn type_index(v: Option<&Value>) -> usize {
    match v {
        None => 0,
        Some(Value::Null) => 1,
        Some(Value::Bool(_)) => 2,
        Some(Value::Number(_)) => 3,
        Some(Value::String(_)) => 4,
        Some(Value::Array(_)) => 5,
        Some(Value::Object(_)) => 6,
    }
}

fn is_js_space(c: char) -> bool {
    (c.is_whitespace() && c != '\u{85}') || c == '\u{FEFF}'
}

/// Text from an event, shortened for an error message.
pub fn abbreviate(s: &str) -> String {
    const MAX: usize = 64;
    if s.chars().count() <= MAX {
        s.to_owned()
    } else {
        format!(
            "{}... ({} characters)",
            s.chars().take(MAX).collect::<String>(),
            s.chars().count()
        )
    }
}

/// `String.prototype.toLowerCase`, copying a text already in lower case (ASCII) as it is.
pub fn lowercase(s: &str) -> Str {
    if s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase()) {
        Str::from(s)
    } else {
        Str::from(s.to_lowercase())
    }
}

/// `String.prototype.trim`.
pub fn js_trim(s: &str) -> &str {
    s.trim_matches(is_js_space)
}

pub fn num_f64(n: &Number) -> Option<f64> {
    n.as_f64().or_else(|| n.to_string().parse::<f64>().ok())
}

/// Loose equality as the specs use it: numbers by value, everything else structurally.
pub fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => num_f64(x) == num_f64(y),
        (Some(x), Some(y)) => x == y,
        (None, None) => true,
        _ => false,
    }
}

/// `String(value)` for the values a string operation may meet.
pub fn to_js_string(v: Option<&Value>) -> String {
    match v {
        None => "undefined".into(),
        Some(Value::Null) => "null".into(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => number_to_js(num_f64(n).unwrap_or(f64::NAN)),
        Some(Value::String(s)) => s.as_str().to_owned(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|e| match e {
                Value::Null => String::new(),
                other => to_js_string(Some(other)),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(_)) => "[object Object]".into(),
    }
}

/// `Number.prototype.toString()` for a double.
pub fn number_to_js(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    if f == 0.0 {
        return "0".into();
    }
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let e: i64 = exp.parse().unwrap_or(0);
    let k = digits.len() as i64;
    let n = e + 1;
    let mut out = String::new();
    if f < 0.0 {
        out.push('-');
    }
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.push_str(&digits[..n as usize]);
        out.push('.');
        out.push_str(&digits[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&digits);
    } else {
        out.push_str(&digits[..1]);
        if k > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).abs().to_string());
    }
    out
}

/// A JavaScript number as JSON: integers exactly, NaN and the infinities as `null` (as
/// `JSON.stringify` writes them).
pub fn num(f: f64) -> Value {
    if !f.is_finite() {
        // NaN and the infinities stay numbers while the event is evaluated (falsy, written
        // "NaN" by `String`); the JSON writer prints them as `null`, as `JSON.stringify` does.
        let text = if f.is_nan() {
            "NaN"
        } else if f > 0.0 {
            "Infinity"
        } else {
            "-Infinity"
        };
        return Value::Number(Number::from_string_unchecked(text.to_owned()));
    }
    if f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0 {
        #[allow(clippy::cast_possible_truncation)]
        return Value::from(f as i64);
    }
    Number::from_f64(f).map_or(Value::Null, Value::Number)
}

/// `Number(value)`.
pub fn to_number(v: Option<&Value>) -> f64 {
    match v {
        None => f64::NAN,
        Some(Value::Null) => 0.0,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::Number(n)) => num_f64(n).unwrap_or(f64::NAN),
        Some(Value::String(s)) => js_number(s).unwrap_or(f64::NAN),
        Some(Value::Array(_)) => js_number(&to_js_string(v)).unwrap_or(f64::NAN),
        Some(Value::Object(_)) => f64::NAN,
    }
}

/// JavaScript's `+`: text when either side (as a primitive) is text, else numbers.
pub fn add(a: Option<&Value>, b: Option<&Value>) -> Value {
    let texty = |v: Option<&Value>| {
        matches!(
            v,
            Some(Value::String(_) | Value::Array(_) | Value::Object(_))
        )
    };
    if texty(a) || texty(b) {
        let mut s = to_js_string(a);
        s.push_str(&to_js_string(b));
        return Value::String(s.into());
    }
    num(to_number(a) + to_number(b))
}

/// JavaScript's relational comparison (`<` when `less`); `None` when it is undefined (NaN).
pub fn compare(a: Option<&Value>, b: Option<&Value>) -> Option<std::cmp::Ordering> {
    if let (Some(Value::String(x)), Some(Value::String(y))) = (a, b) {
        return Some(x.encode_utf16().cmp(y.encode_utf16()));
    }
    let prim = |v: Option<&Value>| match v {
        Some(Value::Array(_) | Value::Object(_)) => Some(Value::String(to_js_string(v).into())),
        _ => None,
    };
    let (pa, pb) = (prim(a), prim(b));
    let (a, b) = (pa.as_ref().or(a), pb.as_ref().or(b));
    if let (Some(Value::String(x)), Some(Value::String(y))) = (a, b) {
        return Some(x.encode_utf16().cmp(y.encode_utf16()));
    }
    to_number(a).partial_cmp(&to_number(b))
}

/// A JSON number literal rewritten the way `JSON.stringify(JSON.parse(literal))` prints it.
pub fn json_number_to_js(literal: &str) -> String {
    if is_js_spelling(literal) {
        return literal.to_owned();
    }
    match literal.parse::<f64>() {
        Ok(f) if f.is_finite() => number_to_js(f),
        _ => "null".into(),
    }
}

/// A literal JavaScript prints unchanged: an integer of at most 15 digits, no leading zero,
/// not `-0`.
pub fn is_plain_integer(literal: &str) -> bool {
    let digits = literal.strip_prefix('-').unwrap_or(literal);
    !digits.is_empty()
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" && !literal.starts_with('-') || !digits.starts_with('0'))
}

/// A literal JavaScript prints unchanged (`JSON.stringify(JSON.parse(literal))` gives it
/// back): a plain integer ([`is_plain_integer`]), or a fraction in JavaScript's fixed notation
/// of at most 15 significant digits, no zero ending it and, below 1, at most five zeros after
/// the point (JavaScript writes 1e-7 for 0.0000001). Two numbers of at most 15 significant
/// digits never read as the same double, so no shorter spelling reads as this one's: its
/// digits are the shortest, the ones JavaScript prints.
pub fn is_js_spelling(literal: &str) -> bool {
    if is_plain_integer(literal) {
        return true;
    }
    let unsigned = literal.strip_prefix('-').unwrap_or(literal);
    let Some((int, frac)) = unsigned.split_once('.') else {
        return false;
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || frac.ends_with('0') {
        return false;
    }
    if int == "0" {
        let significant = frac.trim_start_matches('0').len();
        frac.len() - significant <= 5 && significant <= 15
    } else {
        !int.starts_with('0') && int.len() + frac.len() <= 15
    }
}

/// Whether `key` is an own key of `target` the way `key in target` sees JSON data.
#[inline]
pub fn own<'a>(target: &'a Value, key: &str) -> Option<&'a Value> {
    match target {
        // Event objects are small: comparing keys beats hashing them.
        Value::Object(m) if m.len() <= 16 => {
            m.iter().find(|(k, _)| same_key(k, key)).map(|(_, v)| v)
        }
        Value::Object(m) => m.get(key),
        Value::Array(a) => array_index(key).and_then(|i| a.get(i)),
        _ => None,
    }
}

/// Key equality for scans: the length and the first byte rule out most keys before the
/// bytes are compared.
#[inline]
fn same_key(k: &str, key: &str) -> bool {
    k.len() == key.len() && k.as_bytes().first() == key.as_bytes().first() && k == key
}

/// A canonical array index (`"0"`, `"12"`, not `"01"`).
pub fn array_index(key: &str) -> Option<usize> {
    if key.is_empty() || (key.len() > 1 && key.starts_with('0')) {
        return None;
    }
    if !key.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    key.parse().ok()
}

/// `get-value`: the whole path as one key first, then segment by segment, joining
/// segments with `.` while no key matches (so `{"a.b": 1}` is found at `a.b`).
pub fn get<'a>(target: &'a Value, whole: &str, segs: &[Box<str>]) -> Option<&'a Value> {
    if segs.len() == 1 {
        return own(target, whole);
    }
    let first = match target {
        // One pass over the object asks both: the whole path as a key, the first segment.
        Value::Object(m) => match m.path_start(whole, &segs[0]) {
            PathStart::Whole(v) => return Some(v),
            PathStart::First(Some(v), _) => v,
            PathStart::First(None, true) => return get_joined(target, segs).map(|(v, _)| v),
            PathStart::First(None, false) => return None,
        },
        // A dotted path is no index.
        Value::Array(a) => array_index(&segs[0]).and_then(|i| a.get(i))?,
        _ => return None,
    };
    if !matches!(first, Value::Object(_) | Value::Array(_)) {
        return None;
    }
    get_fast(target, first, segs)
}

/// The longest parent path an event remembers (see `Path::prefix`).
pub const MAX_PREFIX: usize = 4;

/// Where a message path's parent was found, remembered for the event, so that the paths
/// below it (`traits.email`, `traits.name`, ...) start from it.
#[derive(Debug, Clone, Copy, Default)]
pub enum Prefix {
    #[default]
    Unknown,
    /// Not there (or not an object or list), with no key that joining segments could find:
    /// every path below it is undefined.
    Absent,
    /// Some object on the way has a key with a `.` that joining could find: paths below it
    /// take `get-value`'s whole walk.
    Joined,
    /// Found: the place taken at each step (an object's entry, a list's element).
    At([u32; MAX_PREFIX], u8),
}

/// Walks `segs` (at most [`MAX_PREFIX`]) from `root` as [`get`] would, noting each step's
/// place; any key on the way that joining segments could reach gives [`Prefix::Joined`].
pub fn find_prefix(root: &Value, segs: &[Box<str>]) -> Prefix {
    let mut at = [0u32; MAX_PREFIX];
    let mut cur = root;
    if segs.len() > MAX_PREFIX {
        return Prefix::Joined;
    }
    for (i, seg) in segs.iter().enumerate() {
        let (k, next) = match cur {
            Value::Object(m) => match m.step(seg) {
                (_, true) => return Prefix::Joined,
                (None, false) => return Prefix::Absent,
                (Some(k), false) => match m.get_index(k) {
                    Some((_, v)) => (k, v),
                    None => return Prefix::Joined,
                },
            },
            Value::Array(a) => match array_index(seg).and_then(|k| Some((k, a.get(k)?))) {
                Some(found) => found,
                None => return Prefix::Absent,
            },
            _ => return Prefix::Absent,
        };
        let Ok(k) = u32::try_from(k) else {
            return Prefix::Joined;
        };
        at[i] = k;
        cur = next;
    }
    Prefix::At(at, segs.len() as u8)
}

/// The value at the places [`find_prefix`] noted.
pub fn follow<'a>(root: &'a Value, at: &[u32]) -> Option<&'a Value> {
    let mut cur = root;
    for &k in at {
        cur = match cur {
            Value::Object(m) => m.get_index(k as usize)?.1,
            Value::Array(a) => a.get(k as usize)?,
            _ => return None,
        };
    }
    Some(cur)
}

/// Like [`get`], also returning the keys it went through, for unset. The common case (every
/// segment an own key) allocates nothing; joining segments (`{"a.b": ..}`) is the slow path.
fn get_segments<'a>(target: &'a Value, segs: &[Box<str>]) -> Option<(&'a Value, Vec<String>)> {
    let mut cur = target;
    for (i, seg) in segs.iter().enumerate() {
        match own(cur, seg) {
            Some(v) if i + 1 == segs.len() => {
                return Some((v, segs.iter().map(|s| s.to_string()).collect()));
            }
            Some(v) if matches!(v, Value::Object(_) | Value::Array(_)) => cur = v,
            Some(_) => return None,
            None => return get_joined(target, segs),
        }
    }
    None
}

/// `get-value`'s full walk: a segment not found is joined with the next ones by `.`.
fn get_joined<'a>(mut target: &'a Value, segs: &[Box<str>]) -> Option<(&'a Value, Vec<String>)> {
    let mut keys = Vec::new();
    let mut idx = 0;
    let len = segs.len();
    loop {
        let mut prop = segs[idx].to_string();
        if let Some(v) = own(target, &prop) {
            target = v;
        } else {
            let mut found = false;
            let mut n = idx + 1;
            while n < len {
                prop.push('.');
                prop.push_str(&segs[n]);
                n += 1;
                if let Some(v) = own(target, &prop) {
                    target = v;
                    idx = n - 1;
                    found = true;
                    break;
                }
            }
            if !found {
                return None;
            }
        }
        keys.push(prop);
        idx += 1;
        if idx >= len || !matches!(target, Value::Object(_) | Value::Array(_)) {
            break;
        }
    }
    (idx == len).then_some((target, keys))
}

/// [`get`] without the bookkeeping for unset, from `cur`, the value of the first segment.
fn get_fast<'a>(target: &'a Value, mut cur: &'a Value, segs: &[Box<str>]) -> Option<&'a Value> {
    for (i, seg) in segs.iter().enumerate().skip(1) {
        match own(cur, seg) {
            Some(v) if i + 1 == segs.len() => return Some(v),
            Some(v) if matches!(v, Value::Object(_) | Value::Array(_)) => cur = v,
            Some(_) => return None,
            // Joining segments can only help if some key here is `seg.` something.
            None if i + 1 < segs.len() && has_dotted_key(cur, seg) => {
                return get_joined(target, segs).map(|(v, _)| v);
            }
            None => return None,
        }
    }
    None
}

fn has_dotted_key(v: &Value, prefix: &str) -> bool {
    match v {
        Value::Object(m) => m.keys().any(|k| {
            k.len() > prefix.len() && k.starts_with(prefix) && k.as_bytes()[prefix.len()] == b'.'
        }),
        _ => false,
    }
}

/// `unset-value` after a successful `get`: removes the value where `get` found it.
pub fn unset(target: &mut Value, whole: &str, segs: &[Box<str>]) {
    if let Value::Object(m) = target
        && m.contains_key(whole)
    {
        m.shift_remove(whole);
        return;
    }
    let Some((_, keys)) = get_segments(target, segs) else {
        return;
    };
    let mut cur = target;
    for (i, k) in keys.iter().enumerate() {
        let last = i + 1 == keys.len();
        match cur {
            Value::Object(m) if last => {
                m.shift_remove(k.as_str());
                return;
            }
            Value::Object(m) => match m.get_mut(k.as_str()) {
                Some(next) => cur = next,
                None => return,
            },
            Value::Array(a) => match array_index(k) {
                Some(ix) if last => {
                    if ix < a.len() {
                        a[ix] = Value::Null;
                    }
                    return;
                }
                Some(ix) => match a.get_mut(ix) {
                    Some(next) => cur = next,
                    None => return,
                },
                None => return,
            },
            _ => return,
        }
    }
}

/// One key of a `set-value` path: a string, or a number (which makes arrays).
#[derive(Debug, Clone, PartialEq)]
pub enum SetKey {
    Str(Box<str>),
    Num(f64),
}

impl SetKey {
    pub fn as_prop(&self) -> String {
        match self {
            SetKey::Str(s) => s.to_string(),
            SetKey::Num(n) => number_to_js(*n),
        }
    }
}

/// `Number(s)` for the strings `set-value` tests with `Number.isInteger`.
pub fn js_number(s: &str) -> Option<f64> {
    let t = js_trim(s);
    if t.is_empty() {
        return Some(0.0);
    }
    for (prefix, radix) in [
        ("0x", 16),
        ("0X", 16),
        ("0o", 8),
        ("0O", 8),
        ("0b", 2),
        ("0B", 2),
    ] {
        if let Some(rest) = t.strip_prefix(prefix) {
            if rest.is_empty() || !rest.chars().all(|c| c.is_digit(radix)) {
                return None;
            }
            return Some(rest.chars().fold(0.0, |acc, c| {
                acc * f64::from(radix) + f64::from(c.to_digit(radix).unwrap_or(0))
            }));
        }
    }
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    if body == "Infinity" {
        return Some(if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    let int_digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    i += int_digits;
    let mut frac_digits = 0;
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        frac_digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        i += frac_digits;
    }
    if int_digits + frac_digits == 0 {
        return None;
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let exp_digits = bytes[i..].iter().take_while(|b| b.is_ascii_digit()).count();
        if exp_digits == 0 {
            return None;
        }
        i += exp_digits;
    }
    if i != bytes.len() {
        return None;
    }
    t.parse::<f64>().ok()
}

/// `set-value`'s path splitting: `.` separates, `\` escapes, integer-looking parts become
/// numbers, a path holding `/` is one key.
pub fn split_set_path(path: &str) -> Vec<SetKey> {
    if path.contains('/') {
        return vec![SetKey::Str(path.into())];
    }
    let mut parts = Vec::new();
    let mut part = String::new();
    let push = |part: &str, parts: &mut Vec<SetKey>| match js_number(part) {
        Some(n) if !js_trim(part).is_empty() && n.is_finite() && n.fract() == 0.0 => {
            parts.push(SetKey::Num(n))
        }
        _ => parts.push(SetKey::Str(part.into())),
    };
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    part.push(n);
                }
            }
            '.' => {
                push(&part, &mut parts);
                part.clear();
            }
            _ => part.push(c),
        }
    }
    if !part.is_empty() {
        push(&part, &mut parts);
    }
    parts
}

/// Why a `set-value` write was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetError {
    #[error("cannot set the unsafe key \"{0}\"")]
    UnsafeKey(String),
    #[error("array index {0} is beyond the engine's limit of {MAX_ARRAY_INDEX}")]
    IndexTooLarge(String),
    #[error("the path nests {0} levels, beyond the engine's limit of {MAX_PATH_DEPTH}")]
    TooDeep(usize),
}

fn check_key(k: &SetKey) -> Result<(), SetError> {
    match k {
        SetKey::Str(s) if matches!(&**s, "__proto__" | "constructor" | "prototype") => {
            Err(SetError::UnsafeKey(s.to_string()))
        }
        _ => Ok(()),
    }
}

/// A slot of a container addressed by a key, as JavaScript would address it. `None` when
/// the write would land on a property JSON cannot show (a named key of an array).
fn slot<'a>(obj: &'a mut Value, key: &SetKey) -> Result<Option<&'a mut Value>, SetError> {
    match obj {
        Value::Object(m) => Ok(Some(match key {
            SetKey::Str(k) => object_slot(m, k),
            SetKey::Num(_) => m.entry(key.as_prop()).or_insert(Value::Null),
        })),
        Value::Array(a) => {
            let Some(ix) = array_index(&key.as_prop()) else {
                return Ok(None);
            };
            if ix > MAX_ARRAY_INDEX {
                return Err(SetError::IndexTooLarge(key.as_prop()));
            }
            if ix >= a.len() {
                a.resize(ix + 1, Value::Null);
            }
            Ok(Some(&mut a[ix]))
        }
        _ => Ok(None),
    }
}

/// The member `key` of an object, inserted as `null` at the end when missing. Existing keys
/// are found without allocating.
pub fn object_slot<'a>(m: &'a mut Map, key: &str) -> &'a mut Value {
    m.entry_or_insert_with(key, || Value::Null)
}

/// `set-value`: writes `value` at `keys`, creating objects (or arrays before a numeric key)
/// and replacing non-objects on the way. `None` deletes the last key.
pub fn set(target: &mut Value, keys: &[SetKey], value: Option<Value>) -> Result<(), SetError> {
    if keys.is_empty() || !matches!(target, Value::Object(_) | Value::Array(_)) {
        return Ok(());
    }
    if keys.len() > MAX_PATH_DEPTH {
        return Err(SetError::TooDeep(keys.len()));
    }
    let mut obj = target;
    for (i, key) in keys.iter().enumerate() {
        check_key(key)?;
        let Some(next) = keys.get(i + 1) else {
            match value {
                Some(v) => {
                    if let Some(s) = slot(obj, key)? {
                        *s = v;
                    }
                }
                None => {
                    if let Value::Object(m) = obj {
                        match key {
                            SetKey::Str(k) => m.shift_remove(k),
                            SetKey::Num(_) => m.shift_remove(&key.as_prop()),
                        };
                    }
                }
            }
            return Ok(());
        };
        let Some(s) = slot(obj, key)? else {
            return Ok(());
        };
        let wants_array = matches!(next, SetKey::Num(_));
        if wants_array && !s.is_array() {
            *s = Value::Array(Vec::new());
        } else if !matches!(s, Value::Object(_) | Value::Array(_)) {
            *s = Value::Object(Map::new());
        }
        obj = s;
    }
    Ok(())
}

/// lodash `merge(dst, src)` for JSON: objects merge key by key, arrays index by index,
/// a container replaces a non-container, `null` overwrites. `src` is consumed.
pub fn merge(dst: &mut Value, src: Value) {
    match src {
        Value::Object(sm) => {
            for (k, sv) in sm {
                merge_key(dst, &k, sv);
            }
        }
        Value::Array(sa) => {
            for (i, sv) in sa.into_iter().enumerate() {
                merge_key(dst, &i.to_string(), sv);
            }
        }
        _ => {}
    }
}

fn merge_key(dst: &mut Value, key: &str, sv: Value) {
    let slot = match dst {
        Value::Object(m) => object_slot(m, key),
        Value::Array(a) => match array_index(key) {
            Some(ix) if ix <= MAX_ARRAY_INDEX => {
                if ix >= a.len() {
                    a.resize(ix + 1, Value::Null);
                }
                &mut a[ix]
            }
            _ => return,
        },
        _ => return,
    };
    if slot.is_null() && matches!(sv, Value::Array(_) | Value::Object(_)) {
        // Nothing to merge with: lodash would deep-copy the source; moving it is the same.
        *slot = sv;
        return;
    }
    match sv {
        Value::Array(_) => {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            merge(slot, sv);
        }
        Value::Object(_) => {
            if !matches!(slot, Value::Object(_) | Value::Array(_)) {
                *slot = Value::Object(Map::new());
            }
            merge(slot, sv);
        }
        other => *slot = other,
    }
}

/// Removes `null`, `{}` and `[]` at every depth (array elements too); `None` when nothing is
/// left.
pub fn clean_deep(mut v: Value) -> Option<Value> {
    clean_in_place(&mut v).then_some(v)
}

/// Cleans `v` in place; false when nothing is left of it.
fn clean_in_place(v: &mut Value) -> bool {
    match v {
        Value::Null => false,
        Value::Array(a) => {
            a.retain_mut(clean_in_place);
            !a.is_empty()
        }
        Value::Object(m) => {
            m.retain(|_, v| clean_in_place(v));
            !m.is_empty()
        }
        _ => true,
    }
}

/// Removes the `null` members of an object, leaving deeper levels as they are.
pub fn clean_top(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, v| !v.is_null());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn segs(p: &str) -> Vec<Box<str>> {
        p.split('.').map(Into::into).collect()
    }

    #[test]
    fn numbers_print_as_javascript_does() {
        assert_eq!(number_to_js(1.0), "1");
        assert_eq!(number_to_js(1e21), "1e+21");
        assert_eq!(number_to_js(1.5e-7), "1.5e-7");
        assert_eq!(number_to_js(0.000001), "0.000001");
        assert_eq!(number_to_js(123.456), "123.456");
        assert_eq!(
            json_number_to_js("12345678901234567890"),
            "12345678901234567000"
        );
        assert_eq!(json_number_to_js("-0"), "0");
        assert_eq!(json_number_to_js("1e400"), "null");
    }

    #[test]
    fn get_finds_dotted_keys_and_indexes() {
        let v = json!({"a.b": 1, "c": {"d.e": {"f": 2}}, "l": [{"id": 3}]});
        assert_eq!(get(&v, "a.b", &segs("a.b")), Some(&json!(1)));
        assert_eq!(get(&v, "c.d.e.f", &segs("c.d.e.f")), Some(&json!(2)));
        assert_eq!(get(&v, "l.0.id", &segs("l.0.id")), Some(&json!(3)));
        assert_eq!(get(&v, "l.01.id", &segs("l.01.id")), None);
        assert_eq!(get(&v, "c.x", &segs("c.x")), None);
    }

    #[test]
    fn get_walks_the_same_over_small_and_indexed_objects() {
        // The same lookups in an object scanned (few keys) and one hashed (many keys), before
        // and after a dotted key is added: the whole path as a key wins over the walk, and
        // segments are joined only when some key begins with the segment and a dot.
        for filler in [0, 40] {
            let mut v = json!({"a": {"b": 1}, "x": {"y.z": 2}});
            let m = v.as_object_mut().unwrap();
            for i in 0..filler {
                m.insert(format!("k{i}").into(), json!(i));
            }
            assert_eq!(get(&v, "a.b", &segs("a.b")), Some(&json!(1)), "{filler}");
            assert_eq!(
                get(&v, "x.y.z", &segs("x.y.z")),
                Some(&json!(2)),
                "{filler}"
            );
            assert_eq!(get(&v, "q.r", &segs("q.r")), None, "{filler}");
            let m = v.as_object_mut().unwrap();
            m.insert("a.b".into(), json!("whole"));
            m.insert("q.r".into(), json!({"s": 3}));
            assert_eq!(
                get(&v, "a.b", &segs("a.b")),
                Some(&json!("whole")),
                "{filler}"
            );
            assert_eq!(
                get(&v, "q.r.s", &segs("q.r.s")),
                Some(&json!(3)),
                "{filler}"
            );
            assert_eq!(
                get(&v, "q.r", &segs("q.r")),
                Some(&json!({"s": 3})),
                "{filler}"
            );
        }
    }

    #[test]
    fn a_path_from_its_remembered_parent_is_the_path_walked_whole() {
        // Every path of up to four segments over these keys, in objects with and without
        // dotted keys, lists and scalars on the way, small and hashed: starting from the
        // parent `find_prefix` found gives what `get` gives.
        let mut big = json!({"a": {"b": {"c": 1}}, "l": [{"c": 2}, 3]});
        for i in 0..20 {
            big.as_object_mut()
                .unwrap()
                .insert(format!("k{i}").into(), json!(i));
        }
        let values = [
            json!({"a": {"b": {"c": 1}, "b.c": 2}, "l": [{"c": 3}, "s"], "s": "text"}),
            json!({"a.b": {"c": 4}, "a": {"b": {"c": 5}}}),
            json!({"a": {"b.c": 6, "x": 0}, "l": [[{"c": 7}]]}),
            json!({"a": null, "l": {"0": {"c": 8}}}),
            big,
        ];
        let keys = ["a", "b", "c", "l", "0", "1", "s", "b.c", "x", "k3"];
        let mut paths: Vec<Vec<&str>> = keys.iter().map(|k| vec![*k]).collect();
        for _ in 0..3 {
            let longer: Vec<Vec<&str>> = paths
                .iter()
                .filter(|p| p.len() == paths.last().map_or(0, Vec::len))
                .flat_map(|p| {
                    keys.iter().map(move |k| {
                        let mut q = p.clone();
                        q.push(k);
                        q
                    })
                })
                .collect();
            paths.extend(longer);
        }
        for v in &values {
            for p in paths.iter().filter(|p| p.len() >= 2) {
                let segs: Vec<Box<str>> = p.iter().map(|s| Box::from(*s)).collect();
                let whole = p.join(".");
                let expected = get(v, &whole, &segs);
                let from_parent = match find_prefix(v, &segs[..segs.len() - 1]) {
                    Prefix::Absent => None,
                    Prefix::At(at, n) => {
                        own(follow(v, &at[..usize::from(n)]).unwrap(), p[p.len() - 1])
                    }
                    Prefix::Joined | Prefix::Unknown => expected,
                };
                assert_eq!(from_parent, expected, "{whole} in {v}");
            }
        }
    }

    #[test]
    fn set_nests_dotted_keys_and_makes_arrays() {
        let mut v = json!({});
        set(&mut v, &split_set_path("a.b"), Some(json!(1))).unwrap();
        set(&mut v, &split_set_path("l.0"), Some(json!("x"))).unwrap();
        set(&mut v, &split_set_path("01"), Some(json!(2))).unwrap();
        assert_eq!(v, json!({"a": {"b": 1}, "l": ["x"], "1": 2}));
        assert!(set(&mut v, &split_set_path("a.constructor"), Some(json!(1))).is_err());
        assert!(set(&mut v, &split_set_path("big.99999999"), Some(json!(1))).is_err());
    }

    #[test]
    fn merge_is_lodash_merge() {
        let mut a = json!({"p": {"x": 1, "l": [1, 2, 3]}, "s": 1});
        merge(&mut a, json!({"p": {"y": 2, "l": ["a"]}, "s": {"k": null}}));
        assert_eq!(
            a,
            json!({"p": {"x": 1, "l": ["a", 2, 3], "y": 2}, "s": {"k": null}})
        );
    }

    #[test]
    fn cleaning_policies() {
        let v = json!({"a": null, "b": {}, "c": [null, {}, 0, ""], "d": {"e": []}, "f": false});
        assert_eq!(
            clean_deep(v.clone()),
            Some(json!({"c": [0, ""], "f": false}))
        );
        let mut t = v;
        clean_top(&mut t);
        assert_eq!(
            t,
            json!({"b": {}, "c": [null, {}, 0, ""], "d": {"e": []}, "f": false})
        );
    }

    #[test]
    fn nan_and_infinity_survive_evaluation_and_print_as_null() {
        let nan = num(f64::NAN);
        assert!(!truthy(Some(&nan)));
        assert!(!present(Some(&nan)));
        assert!(defined(Some(&nan)));
        assert_eq!(type_name(Some(&nan)), "number");
        assert_eq!(to_js_string(Some(&nan)), "NaN");
        assert!(!same(Some(&nan), Some(&nan)));
        assert_eq!(to_js_string(Some(&num(f64::INFINITY))), "Infinity");
        assert_eq!(to_js_string(Some(&num(-1.0 / 0.0))), "-Infinity");
        let mut m = Map::new();
        m.insert("a".into(), nan);
        m.insert("b".into(), Value::Array(vec![num(f64::INFINITY)]));
        let v = Value::Object(m);
        assert_eq!(
            crate::protocol::json::to_js_string(&v),
            r#"{"a":null,"b":[null]}"#
        );
    }

    #[test]
    fn predicates() {
        assert!(!present(Some(&json!(""))));
        assert!(present(Some(&json!(0))));
        assert!(!not_empty(Some(&json!(5))));
        assert!(filled(Some(&json!(5))));
        assert!(!filled(Some(&json!("  "))));
        assert!(!truthy(Some(&json!(0.0))));
    }
}
