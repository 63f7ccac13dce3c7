//! Protocol: JSON text in and out, written as JavaScript's `JSON.stringify` writes it:
//! numbers as the double they parse to (`1.0` -> `1`, `1E21` -> `1e+21`, too-large integers
//! rounded, overflow -> `null`), and object keys in JavaScript's property order (integer-like
//! keys first, ascending, then the rest in insertion order).

use std::io::{self, Write};

use crate::value::Value;
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq};
use serde_json::ser::{CompactFormatter, Formatter, Serializer};

use crate::eval::js::{is_plain_integer, json_number_to_js};

/// A `serde_json` formatter that rewrites numbers the JavaScript way.
#[derive(Default)]
pub struct JsFormatter(CompactFormatter);

impl Formatter for JsFormatter {
    fn write_number_str<W: ?Sized + Write>(
        &mut self,
        writer: &mut W,
        value: &str,
    ) -> io::Result<()> {
        if is_plain_integer(value) {
            return writer.write_all(value.as_bytes());
        }
        writer.write_all(json_number_to_js(value).as_bytes())
    }
}

/// A canonical array index as JavaScript orders it: digits, no leading zero, below 2^32 - 1.
fn index_key(k: &str) -> Option<u32> {
    let b = k.as_bytes();
    if b.is_empty()
        || b.len() > 10
        || (b.len() > 1 && b[0] == b'0')
        || !b.iter().all(u8::is_ascii_digit)
    {
        return None;
    }
    k.parse::<u32>().ok().filter(|n| *n < u32::MAX)
}

/// An object's members in JavaScript's property order: integer-like keys first, ascending,
/// then the rest in insertion order.
pub fn js_order(m: &crate::value::Map) -> Vec<(&String, &Value)> {
    if !m.keys().any(|k| index_key(k).is_some()) {
        return m.iter().collect();
    }
    let mut ints: Vec<(u32, &String, &Value)> = m
        .iter()
        .filter_map(|(k, v)| index_key(k).map(|n| (n, k, v)))
        .collect();
    ints.sort_by_key(|(n, _, _)| *n);
    ints.into_iter()
        .map(|(_, k, v)| (k, v))
        .chain(m.iter().filter(|(k, _)| index_key(k).is_none()))
        .collect()
}

/// A value serialized with JavaScript's key order.
pub struct Js<'a>(pub &'a Value);

impl Serialize for Js<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(&Js(v))?;
                }
                seq.end()
            }
            Value::Object(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                if m.keys().any(|k| index_key(k).is_some()) {
                    let mut ints: Vec<(u32, &String, &Value)> = m
                        .iter()
                        .filter_map(|(k, v)| index_key(k).map(|n| (n, k, v)))
                        .collect();
                    ints.sort_by_key(|(n, _, _)| *n);
                    for (_, k, v) in ints {
                        map.serialize_entry(k, &Js(v))?;
                    }
                    for (k, v) in m.iter().filter(|(k, _)| index_key(k).is_none()) {
                        map.serialize_entry(k, &Js(v))?;
                    }
                } else {
                    for (k, v) in m {
                        map.serialize_entry(k, &Js(v))?;
                    }
                }
                map.end()
            }
            other => other.serialize(s),
        }
    }
}

/// Writes `value` as compact JSON, the way JavaScript would.
pub fn write_js<W: Write>(writer: W, value: &Value) -> io::Result<()> {
    write_js_of(writer, &Js(value))
}

/// Writes anything serializable (response items) with JavaScript number spelling.
pub fn write_js_of<W: Write, T: Serialize + ?Sized>(writer: W, value: &T) -> io::Result<()> {
    let mut ser = Serializer::with_formatter(writer, JsFormatter::default());
    value.serialize(&mut ser).map_err(io::Error::other)
}

pub fn to_js_string_of<T: Serialize + ?Sized>(value: &T) -> String {
    let mut out = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = write_js_of(&mut out, value);
    String::from_utf8(out).unwrap_or_default()
}

/// JSON text with every unpaired UTF-16 surrogate escape (`\ud800` alone) replaced by
/// `\ufffd`, or `None` when there is none. JavaScript accepts such strings and serde_json does
/// not; callers retry with this only after a parse fails, so normal input pays nothing.
pub fn without_lone_surrogates(text: &str) -> Option<String> {
    fn hex4(b: &[u8]) -> Option<u16> {
        let s = std::str::from_utf8(b.get(..4)?).ok()?;
        u16::from_str_radix(s, 16).ok()
    }
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut changed = false;
    let mut last = 0;
    let mut i = 0;
    while i + 1 < b.len() {
        if b[i] != b'\\' {
            i += 1;
            continue;
        }
        if b[i + 1] != b'u' {
            i += 2;
            continue;
        }
        let Some(unit) = hex4(&b[i + 2..]) else {
            i += 2;
            continue;
        };
        let paired_low = |at: usize| {
            b.get(at) == Some(&b'\\')
                && b.get(at + 1) == Some(&b'u')
                && hex4(&b[(at + 2).min(b.len())..]).is_some_and(|u| (0xDC00..=0xDFFF).contains(&u))
        };
        match unit {
            0xD800..=0xDBFF if paired_low(i + 6) => i += 12,
            0xD800..=0xDFFF => {
                out.push_str(&text[last..i]);
                out.push_str("\\ufffd");
                changed = true;
                i += 6;
                last = i;
            }
            _ => i += 6,
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// Whether raw JSON text is exactly what JavaScript would print for it, so it can be echoed
/// as is: compact, numbers already canonical, no `\u` or `\/` escapes, no integer-like keys
/// (JavaScript moves those first). Conservative: `false` only costs a re-serialization.
pub fn is_js_canonical(raw: &str) -> bool {
    /// Marks a list in `frames` (it has no keys to keep apart).
    const LIST: usize = usize::MAX;
    let b = raw.as_bytes();
    let mut i = 0;
    // The keys of every open object, one after another; `frames` says where each open
    // object's keys start (or that it is a list), with a 64-bit sketch of its keys so that
    // most keys are known new without comparing them. Duplicate keys are caught, which
    // JavaScript collapses (the last value wins).
    let mut keys: Vec<&str> = Vec::new();
    let mut frames: Vec<(usize, u64)> = Vec::new();
    while i < b.len() {
        match b[i] {
            // Deeper than the parser goes: let the parser say so.
            b'[' | b'{' if frames.len() >= 128 => return false,
            b'{' => {
                frames.push((keys.len(), 0));
                i += 1;
            }
            b'[' => {
                frames.push((LIST, 0));
                i += 1;
            }
            b']' | b'}' => {
                if let Some((start, _)) = frames.pop()
                    && start != LIST
                {
                    keys.truncate(start);
                }
                i += 1;
            }
            b'"' => {
                let start = i + 1;
                i = start;
                let mut escaped = false;
                // The string's end, skipping escapes; `\u` and `\/` are not canonical.
                loop {
                    match memchr::memchr2(b'"', b'\\', &b[i..]) {
                        None => return false,
                        Some(k) if b[i + k] == b'"' => {
                            i += k;
                            break;
                        }
                        Some(k) => {
                            if matches!(b.get(i + k + 1), Some(b'u' | b'/')) {
                                return false;
                            }
                            escaped = true;
                            i += k + 2;
                        }
                    }
                }
                if b.get(i + 1) == Some(&b':') {
                    let key = &raw[start..i];
                    // JavaScript moves integer-like keys first.
                    if !escaped && !key.is_empty() && key.bytes().all(|c| c.is_ascii_digit()) {
                        return false;
                    }
                    if let Some((first, sketch)) = frames.last_mut()
                        && *first != LIST
                    {
                        let open = &keys[*first..];
                        let bit = key_sketch(key);
                        if open.len() >= 64 || (*sketch & bit != 0 && open.contains(&key)) {
                            return false;
                        }
                        *sketch |= bit;
                        keys.push(key);
                    }
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < b.len() && matches!(b[i], b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                {
                    i += 1;
                }
                if !is_plain_integer(&raw[start..i]) {
                    return false;
                }
            }
            b' ' | b'\n' | b'\r' | b'\t' => return false,
            _ => i += 1,
        }
    }
    true
}

/// One of 64 bits for a key, from its length and its first and last bytes: equal keys have
/// the same bit.
fn key_sketch(key: &str) -> u64 {
    let b = key.as_bytes();
    let (first, last) = (
        b.first().copied().unwrap_or(0),
        b.last().copied().unwrap_or(0),
    );
    let h = (b.len() as u32)
        .wrapping_mul(0x9E37_79B9)
        .wrapping_add(u32::from(first) << 8 | u32::from(last));
    1 << (h.wrapping_mul(0x85EB_CA6B) >> 26)
}

pub fn to_js_string(value: &Value) -> String {
    to_js_string_of(&Js(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lone_surrogates_are_replaced_pairs_kept() {
        assert_eq!(without_lone_surrogates(r#"{"a":"x"}"#), None);
        assert_eq!(without_lone_surrogates(r#"{"a":"\ud83d\ude00"}"#), None);
        assert_eq!(
            without_lone_surrogates(r#"{"a":"\ud800 \udc00"}"#).unwrap(),
            r#"{"a":"\ufffd \ufffd"}"#
        );
        assert_eq!(
            without_lone_surrogates(r#"["\\ud800","\uDBFF"]"#).unwrap(),
            r#"["\\ud800","\ufffd"]"#
        );
    }

    #[test]
    fn canonical_json_is_recognised() {
        assert!(is_js_canonical(
            r#"{"jobId":1,"a":"x.y 1.5","n":null,"t":true,"l":[-3,0]}"#
        ));
        assert!(!is_js_canonical(r#"{"jobId":1.0}"#));
        assert!(!is_js_canonical(r#"{"a": 1}"#));
        assert!(!is_js_canonical(r#"{"12":1}"#));
        assert!(!is_js_canonical(r#"{"a":"\u00e9"}"#));
        assert!(!is_js_canonical(r#"{"a":12345678901234567890}"#));
        assert!(is_js_canonical(r#"{"a":"\"12\":"}"#));
        assert!(!is_js_canonical(r#"{"jobId":1,"jobId":2}"#));
        assert!(is_js_canonical(r#"{"a":{"k":1},"b":{"k":2}}"#));
        assert!(!is_js_canonical(r#"{"a":{"k":1,"k":2}}"#));
        assert!(is_js_canonical(r#"{"a":[{"k":1},{"k":2}],"k":3}"#));
        assert!(!is_js_canonical(r#"{"a":[{"k":1}],"a":3}"#));
        assert!(is_js_canonical(r#"{"a\\":"x\"y\\","1a":2}"#));
        assert!(!is_js_canonical(r#"{"a":"\/"}"#));
        assert!(!is_js_canonical(r#"{"a":"x"#));
    }
}
