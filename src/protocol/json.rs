//! Protocol: JSON text in and out, written as JavaScript's `JSON.stringify` writes it:
//! numbers as the double they parse to (`1.0` -> `1`, `1E21` -> `1e+21`, too-large integers
//! rounded, overflow -> `null`), and object keys in JavaScript's property order (integer-like
//! keys first, ascending, then the rest in insertion order).

use std::io::{self, Write};

use crate::value::{Map, Str, Value, key_sketch};

use crate::eval::js::{is_js_spelling, json_number_to_js};

/// A number's JSON text as JavaScript writes the double it parses to.
pub fn write_number(out: &mut Vec<u8>, text: &str) {
    if is_js_spelling(text) {
        out.extend_from_slice(text.as_bytes());
    } else {
        out.extend_from_slice(json_number_to_js(text).as_bytes());
    }
}

/// Whether a byte must be escaped in a JSON string: `"`, `\` and control characters, what
/// serde_json and `JSON.stringify` escape in valid UTF-8.
#[inline]
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Eight bytes as one word, for the byte-wise tests below.
const ONES: u64 = u64::MAX / 255;
const HIGH: u64 = ONES << 7;

/// The high bit of each byte of `w` below `n` (an ASCII byte): exact for the first such byte
/// (a borrow can only mark bytes after it), so the lowest bit set is the first hit.
#[inline]
fn below(w: u64, n: u8) -> u64 {
    w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH
}

/// The high bit of each byte of `w` equal to `c` (exact for the first, as [`below`]).
#[inline]
fn equal(w: u64, c: u8) -> u64 {
    below(w ^ (ONES * u64::from(c)), 1)
}

/// The high bit of each byte of `w` that [`needs_escape`] (exact for the first).
#[inline]
fn escape_hits(w: u64) -> u64 {
    below(w, 0x20) | equal(w, b'"') | equal(w, b'\\')
}

/// Whether any of eight bytes needs escaping (a byte-wise compare done on the whole word).
#[inline]
fn word_needs_escape(w: u64) -> bool {
    escape_hits(w) != 0
}

/// The place of the first byte at or after `i` that [`needs_escape`], eight bytes at a time.
fn first_needing_escape(b: &[u8], mut i: usize) -> Option<usize> {
    while let Some(chunk) = b.get(i..i + 8) {
        let hits = escape_hits(u64::from_le_bytes(chunk.try_into().ok()?));
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(|&c| needs_escape(c))
        .map(|k| i + k)
}

/// Whether any byte of `b` needs escaping, eight bytes at a time (the last word padded with
/// spaces, which do not).
#[inline]
fn has_escape(b: &[u8]) -> bool {
    let mut words = b.chunks_exact(8);
    for w in &mut words {
        if word_needs_escape(u64::from_le_bytes(w.try_into().unwrap_or([b' '; 8]))) {
            return true;
        }
    }
    let rest = words.remainder();
    let mut last = [b' '; 8];
    last[..rest.len()].copy_from_slice(rest);
    word_needs_escape(u64::from_le_bytes(last))
}

/// `s` as a JSON string, escaped exactly as serde_json escapes it: `\"`, `\\`, `\b`, `\f`,
/// `\n`, `\r`, `\t`, other control characters as `\u00xx` (lowercase hex), nothing else.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let b = s.as_bytes();
    out.reserve(b.len() + 2);
    out.push(b'"');
    if !has_escape(b) {
        // Almost every string: copied whole.
        out.extend_from_slice(b);
        out.push(b'"');
        return;
    }
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        if !needs_escape(c) {
            continue;
        }
        out.extend_from_slice(&b[start..i]);
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(c >> 4)],
                HEX[usize::from(c & 0xf)],
            ]),
        }
        start = i + 1;
    }
    out.extend_from_slice(&b[start..]);
    out.push(b'"');
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
pub fn js_order(m: &Map) -> Vec<(&Str, &Value)> {
    if !m.keys().any(|k| index_key(k).is_some()) {
        return m.iter().collect();
    }
    let mut ints: Vec<(u32, &Str, &Value)> = m
        .iter()
        .filter_map(|(k, v)| index_key(k).map(|n| (n, k, v)))
        .collect();
    ints.sort_by_key(|(n, _, _)| *n);
    ints.into_iter()
        .map(|(_, k, v)| (k, v))
        .chain(m.iter().filter(|(k, _)| index_key(k).is_none()))
        .collect()
}

/// Calls `each` with an object's members in JavaScript's property order, without collecting
/// them when no key is integer-like (the common case).
pub fn for_each_in_js_order<'m>(m: &'m Map, mut each: impl FnMut(&'m Str, &'m Value)) {
    if !m.keys().any(|k| index_key(k).is_some()) {
        m.iter().for_each(|(k, v)| each(k, v));
        return;
    }
    for (k, v) in js_order(m) {
        each(k, v);
    }
}

/// Writes `v` as compact JSON, the way JavaScript's `JSON.stringify` writes it.
pub fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(out, n.as_str()),
        Value::String(s) => write_str(out, s),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(out, x);
            }
            out.push(b']');
        }
        Value::Object(m) => write_object(out, m),
    }
}

/// Writes an object as [`write_value`] does.
pub fn write_object(out: &mut Vec<u8>, m: &Map) {
    out.push(b'{');
    let mut first = true;
    for_each_in_js_order(m, |k, x| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
        write_str(out, k);
        out.push(b':');
        write_value(out, x);
    });
    out.push(b'}');
}

/// What eventmap writes as JSON text, the way JavaScript writes it (response items, values).
pub trait WriteJs {
    /// Appends the JSON text to `out`.
    fn write_js(&self, out: &mut Vec<u8>);
}

/// A value written with JavaScript's number spelling and key order.
pub struct Js<'a>(pub &'a Value);

impl WriteJs for Js<'_> {
    fn write_js(&self, out: &mut Vec<u8>) {
        write_value(out, self.0);
    }
}

/// Writes `value` as compact JSON, the way JavaScript would.
pub fn write_js<W: Write>(writer: W, value: &Value) -> io::Result<()> {
    write_js_of(writer, &Js(value))
}

/// Writes a response item or a value to `writer`, through one buffer (a caller with a buffer
/// of its own calls [`WriteJs::write_js`]).
pub fn write_js_of<W: Write, T: WriteJs + ?Sized>(mut writer: W, value: &T) -> io::Result<()> {
    let mut out = Vec::with_capacity(256);
    value.write_js(&mut out);
    writer.write_all(&out)
}

pub fn to_js_string_of<T: WriteJs + ?Sized>(value: &T) -> String {
    let mut out = Vec::with_capacity(256);
    value.write_js(&mut out);
    // Only valid UTF-8 is ever written.
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

/// The place of the first `"` or `\\` in `b` at or after `i`, eight bytes at a time: most
/// strings of an event are short, where a call to `memchr2` costs more than the scan.
pub(crate) fn quote_or_backslash(b: &[u8], mut i: usize) -> Option<usize> {
    while let Some(chunk) = b.get(i..i + 8) {
        let w = u64::from_le_bytes(chunk.try_into().ok()?);
        let hits = equal(w, b'"') | equal(w, b'\\');
        if hits != 0 {
            return Some(i + (hits.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    b.get(i..)?
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|k| i + k)
}

/// Whether raw JSON text is exactly what JavaScript would print for it, so it can be echoed
/// as is: [`js_canonical_end`] over the whole text.
pub fn is_js_canonical(raw: &str) -> bool {
    js_canonical_end(raw.as_bytes(), 0) == Some(raw.len())
}

/// The end of the JSON value at `b[i..]` when it is JSON and exactly what JavaScript would
/// print for it (so it can be echoed as is): compact, numbers spelled as JavaScript spells
/// them ([`is_js_spelling`]), strings without control characters or `\u` and `\/` escapes,
/// no integer-like keys (JavaScript moves those first), no key twice in an object (JavaScript
/// keeps one), at most 100 levels deep. The grammar is checked strictly, so a value it accepts needs no other
/// reading; conservative: `None` only costs a reading and a re-serialization.
pub fn js_canonical_end<'b>(b: &'b [u8], mut i: usize) -> Option<usize> {
    /// Marks a list in `frames` (it has no keys to keep apart).
    const LIST: usize = usize::MAX;
    // The keys of every open object, one after another; `frames` says where each open
    // object's keys start (or that it is a list), with a 64-bit sketch of its keys so that
    // most keys are known new without comparing them.
    let mut keys: Vec<&'b [u8]> = Vec::with_capacity(32);
    let mut frames: Vec<(usize, u64)> = Vec::with_capacity(8);
    // A key, its colon and where its value starts, for the object open last.
    let key = |i: usize, keys: &mut Vec<&'b [u8]>, frame: &mut (usize, u64)| {
        if b.get(i) != Some(&b'"') {
            return None;
        }
        let (close, escaped) = canonical_string_end(b, i + 1)?;
        let k = &b[i + 1..close];
        // JavaScript moves integer-like keys first.
        if !escaped && !k.is_empty() && k.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let open = &keys[frame.0..];
        let bit = key_sketch(k);
        if open.len() >= 64 || (frame.1 & bit != 0 && open.contains(&k)) {
            return None;
        }
        frame.1 |= bit;
        keys.push(k);
        (b.get(close + 1) == Some(&b':')).then_some(close + 2)
    };
    loop {
        // A value at `i`.
        match *b.get(i)? {
            b'{' | b'[' if frames.len() >= 100 => return None,
            b'{' if b.get(i + 1) == Some(&b'}') => i += 2,
            b'[' if b.get(i + 1) == Some(&b']') => i += 2,
            b'{' => {
                frames.push((keys.len(), 0));
                let frame = frames.last_mut()?;
                i = key(i + 1, &mut keys, frame)?;
                continue;
            }
            b'[' => {
                frames.push((LIST, 0));
                i += 1;
                continue;
            }
            b'"' => i = canonical_string_end(b, i + 1)?.0 + 1,
            b't' if b[i..].starts_with(b"true") => i += 4,
            b'f' if b[i..].starts_with(b"false") => i += 5,
            b'n' if b[i..].starts_with(b"null") => i += 4,
            b'-' | b'0'..=b'9' => {
                let start = i;
                while matches!(
                    b.get(i),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    i += 1;
                }
                if !std::str::from_utf8(&b[start..i]).is_ok_and(is_js_spelling) {
                    return None;
                }
            }
            _ => return None,
        }
        // After a value: the containers it closes, then the next value (or the end).
        loop {
            let Some(frame) = frames.last_mut() else {
                return Some(i);
            };
            match (*b.get(i)?, frame.0 == LIST) {
                (b',', true) => {
                    i += 1;
                    break;
                }
                (b',', false) => {
                    i = key(i + 1, &mut keys, frame)?;
                    break;
                }
                (b']', true) => {
                    frames.pop();
                    i += 1;
                }
                (b'}', false) => {
                    keys.truncate(frame.0);
                    frames.pop();
                    i += 1;
                }
                _ => return None,
            }
        }
    }
}

/// The place of the `"` closing a string whose text starts at `i`, and whether it holds
/// escapes, when it is JSON and canonical: no control characters, no `\u` or `\/` escapes.
/// Eight bytes at a time.
fn canonical_string_end(b: &[u8], mut i: usize) -> Option<(usize, bool)> {
    let mut escaped = false;
    loop {
        let stop = first_needing_escape(b, i)?;
        match b[stop] {
            b'"' => return Some((stop, escaped)),
            b'\\'
                if matches!(
                    b.get(stop + 1),
                    Some(b'"' | b'\\' | b'b' | b'f' | b'n' | b'r' | b't')
                ) =>
            {
                escaped = true;
                i = stop + 2;
            }
            _ => return None,
        }
    }
}

pub fn to_js_string(value: &Value) -> String {
    to_js_string_of(&Js(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_and_backslashes_are_found_at_every_place() {
        // Each of `"` and `\\` alone, and both, at every place of texts up to 40 bytes (so at
        // every place of a word and in the tail after the last whole word), with bytes around
        // them that differ from each by one bit, searched from every start.
        for len in 0..40 {
            for at in 0..len {
                for second in [None, Some(at + 1), Some(at + 9)] {
                    for (first, other) in [(b'"', b'\\'), (b'\\', b'"')] {
                        let mut text: Vec<u8> = (0..len)
                            .map(|i| [b'#', b'"' ^ 1, b']', 0xc3][i % 4])
                            .collect();
                        text[at] = first;
                        if let Some(k) = second.filter(|&k| k < len) {
                            text[k] = other;
                        }
                        for start in 0..=len + 2 {
                            let naive = text
                                .get(start..)
                                .and_then(|t| t.iter().position(|&c| c == b'"' || c == b'\\'))
                                .map(|k| start + k);
                            assert_eq!(
                                quote_or_backslash(&text, start),
                                naive,
                                "{text:?} from {start}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn strings_are_escaped_exactly_as_serde_json_escapes_them() {
        // Every ASCII character and a few wider ones, alone and at every place around the
        // eight-byte words the fast check reads.
        let mut chars: Vec<char> = (0u8..0x80).map(char::from).collect();
        chars.extend([
            '\u{7f}',
            '\u{80}',
            '\u{e9}',
            '\u{2028}',
            '\u{2029}',
            '\u{fffd}',
            '\u{1f600}',
        ]);
        for c in chars {
            for pad in 0..18 {
                for s in [
                    format!("{}{c}", "a".repeat(pad)),
                    format!("{c}{}", "a".repeat(pad)),
                    format!("{}{c}{}", "b".repeat(pad), "c".repeat(17 - pad)),
                ] {
                    let mut out = Vec::new();
                    write_str(&mut out, &s);
                    assert_eq!(
                        String::from_utf8(out).unwrap(),
                        serde_json::to_string(&s).unwrap(),
                        "{s:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn values_are_written_as_javascript_writes_them() {
        let v: Value = serde_json::from_str(
            r#"{"b":[1.50,-0,1e21,1E400,12345678901234567890,"x\ty"],"10":null,"2":{"":true},"a":{}}"#,
        )
        .unwrap();
        let mut out = Vec::new();
        write_value(&mut out, &v);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            r#"{"2":{"":true},"10":null,"b":[1.5,0,1e+21,null,12345678901234567000,"x\ty"],"a":{}}"#
        );
    }

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
        // Fractions as JavaScript writes them, and as it does not.
        assert!(is_js_canonical(
            r#"{"p":29.99,"q":-0.5,"r":0.000001,"s":123456789.012345}"#
        ));
        for n in [
            "1.50",
            "0.0000001",
            "123456789.0123456",
            "1.",
            "01.5",
            "1e3",
            "-0",
            "1.0",
        ] {
            assert!(!is_js_canonical(&format!(r#"{{"p":{n}}}"#)), "{n}");
        }
    }
}
