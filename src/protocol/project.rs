//! Projected parsing: one pass of serde_json over a request item that keeps the message's
//! parts a plan reads ([`ReadTree`]) as values, the destination and metadata as raw text, and
//! skips everything else without building it (skipped values are still validated, so bad
//! JSON is refused as before). Kept parts are built by the same deserializer that builds a
//! whole [`Value`] from serde_json's tokens, so numbers, strings and key order are exactly
//! those of a full parse.
//!
//! Why serde_json: `benches/parse.rs` measures it against sonic-rs (its lazy object iterator
//! and `get_many` over a pointer tree, checked and unchecked) and simd-json on the same ~2 KB
//! items. Validating what is skipped costs about the same everywhere (serde_json's skip is as
//! fast as sonic-rs's checked one), sonic-rs's unchecked `get_many` accepts invalid JSON, and
//! a second pass over raw parts (what sonic-rs's iterator needs to descend) costs more than it
//! saves; one serde_json pass does both the skipping and the building.

use std::fmt;

use crate::value::{Str, Value};
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

use crate::plan::ReadTree;
use crate::value::{KeyText, MapReader, NUMBER_TOKEN};

/// The members of a request item the fast path reads.
pub struct Parts<'a> {
    /// The message, with just what the plan reads (`Null` when absent).
    pub message: Value,
    /// The members' JSON text, as received and checked (serde_json read it, or it is the
    /// text of a destination it read, or [`crate::protocol::json::js_canonical_end`] read it).
    pub destination: Option<&'a str>,
    pub metadata: Option<&'a str>,
    /// The metadata is known to be what JavaScript would print for it (checked when read).
    pub canonical_metadata: bool,
    pub connection: Option<&'a str>,
}

/// One request item's members, the message projected onto `tree`. `Ok(None)` when the general
/// path must decide (a member given twice); `Err` when serde_json refuses the text (the
/// general path words the error, and forgives lone surrogates).
pub fn split_item<'a>(
    text: &'a str,
    tree: &ReadTree,
) -> Result<Option<Parts<'a>>, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let parts = de.deserialize_map(ItemVisitor { tree })?;
    de.end()?;
    Ok(parts)
}

/// A message on its own, projected onto `tree` (tests and benches).
pub fn project(text: &str, tree: &ReadTree) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let v = Project { tree }.deserialize(&mut de)?;
    de.end()?;
    Ok(v)
}

/// JSON's whitespace, which is not all of ASCII's (no form feed).
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// The items of a JSON array's text, found by its brackets, commas and strings alone, without
/// reading the items (each is read, and so checked, when it is mapped: [`split_item`]). `None`
/// when the text around the items is not an array's: `[`, items between commas, `]`, and only
/// whitespace outside. An item text that is not JSON is for its reader to find; with every
/// item JSON, the whole text is.
pub fn split_array(text: &str) -> Option<Vec<&str>> {
    let b = text.as_bytes();
    let ws = |mut i: usize| {
        while b.get(i).is_some_and(|&c| is_ws(char::from(c))) {
            i += 1;
        }
        i
    };
    let mut i = ws(0);
    if b.get(i) != Some(&b'[') {
        return None;
    }
    i = ws(i + 1);
    let mut items = Vec::new();
    if b.get(i) == Some(&b']') {
        return (ws(i + 1) == b.len()).then_some(items);
    }
    loop {
        let start = i;
        let mut depth = 0usize;
        let close = loop {
            match *b.get(i)? {
                b'"' => i = string_end(b, i + 1)? + 1,
                b'{' | b'[' => {
                    depth += 1;
                    i += 1;
                }
                c @ (b',' | b']') if depth == 0 => break c,
                b'}' | b']' => {
                    depth = depth.checked_sub(1)?;
                    i += 1;
                }
                _ => i += 1,
            }
        };
        let item = text.get(start..i)?.trim_end_matches(is_ws);
        if item.is_empty() {
            return None;
        }
        items.push(item);
        i = ws(i + 1);
        if close == b']' {
            return (i == b.len()).then_some(items);
        }
    }
}

/// The items of a compact array whose items all open the same way, as rudder-server writes a
/// request (`[{"message":...},{"message":...}]`): cut wherever `}`, `,` and the first item's
/// opening up to its first key's colon recur, found by `memmem` rather than by reading every
/// byte as [`split_array`] does. A guess, which the items' reading checks: an occurrence
/// inside a string is impossible (the opening's `"` after `{` would end the string, and a
/// letter after a string's end is not JSON), but one inside an item (a nested object of the
/// same first key, after another) cuts that item into pieces that are not JSON. So when every
/// piece reads as JSON, they are the array's items (an array is `[`, values between commas
/// and `]`, read one way only); when one does not, [`split_array`] decides. `None` when the
/// text is not `[`, a `{"key":` opening and, at its end, `}]` (whitespace outside allowed).
pub fn guess_items(text: &str) -> Option<Vec<&str>> {
    let inner = text
        .trim_matches(is_ws)
        .strip_prefix('[')?
        .strip_suffix(']')?
        .trim_matches(is_ws);
    if !inner.starts_with("{\"") || !inner.ends_with('}') {
        return None;
    }
    // The first key's closing quote, then its colon: a key without escapes, not too long
    // to be worth searching for.
    let key_end = 2 + inner.as_bytes()[2..inner.len().min(66)]
        .iter()
        .position(|&c| c == b'"')?;
    if inner[..key_end].contains('\\') || inner.as_bytes().get(key_end + 1) != Some(&b':') {
        return None;
    }
    let mut needle = Vec::with_capacity(key_end + 4);
    needle.extend_from_slice(b"},");
    needle.extend_from_slice(&inner.as_bytes()[..key_end + 2]);
    let mut items = Vec::new();
    let mut start = 0;
    for at in memchr::memmem::find_iter(inner.as_bytes(), &needle) {
        items.push(&inner[start..=at]);
        start = at + 2;
    }
    items.push(&inner[start..]);
    Some(items)
}

/// The place of the `"` that closes a string whose text starts at `i`.
fn string_end(b: &[u8], mut i: usize) -> Option<usize> {
    loop {
        i = crate::protocol::json::quote_or_backslash(b, i)?;
        if b[i] == b'"' {
            return Some(i);
        }
        i += 2;
    }
}

struct ItemVisitor<'t> {
    tree: &'t ReadTree,
}

impl<'de> Visitor<'de> for ItemVisitor<'_> {
    type Value = Option<Parts<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a request item (an object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut message = None;
        let (mut destination, mut metadata, mut connection) = (None, None, None);
        let mut repeated = false;
        while let Some(key) = map.next_key::<KeyText>()? {
            let raw = match key.as_str() {
                "message" if message.is_none() => {
                    message = Some(map.next_value_seed(Project { tree: self.tree })?);
                    continue;
                }
                "destination" => &mut destination,
                "metadata" => &mut metadata,
                "connection" => &mut connection,
                "message" => {
                    repeated = true;
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            repeated |= raw
                .replace(map.next_value::<&'de RawValue>()?.get())
                .is_some();
        }
        Ok((!repeated).then(|| Parts {
            message: message.unwrap_or(Value::Null),
            destination,
            metadata,
            canonical_metadata: false,
            connection,
        }))
    }
}

/// A value projected onto a read tree: objects keep the members the tree reads; anything
/// read whole, and anything that is not an object, is built whole.
#[derive(Clone, Copy)]
struct Project<'t> {
    tree: &'t ReadTree,
}

impl<'de> DeserializeSeed<'de> for Project<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        if self.tree.whole {
            Value::deserialize(d)
        } else {
            d.deserialize_any(self)
        }
    }
}

impl<'de> Visitor<'de> for Project<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        Ok(Value::from(n))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::String(Str::from(s)))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::String(s.into()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        // A list is read by index or as a whole: kept whole.
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        // Sized for what the tree can keep, so the map is not grown key by key.
        let mut m = MapReader::with_capacity(self.tree.children.len().min(32));
        let mut first = true;
        while let Some(key) = map.next_key::<KeyText>()? {
            if std::mem::take(&mut first) && key.as_str() == NUMBER_TOKEN {
                // Read back as serde_json reads a number's text, so it keeps its spelling.
                let text: String = map.next_value()?;
                return Ok(Value::Number(crate::value::number_from_text(text)));
            }
            match self.tree.child(key.as_str()) {
                Some(tree) => {
                    let v = map.next_value_seed(Project { tree })?;
                    m.add(key.into_str(), v);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(m.into_map()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(paths: &[&str]) -> ReadTree {
        let mut t = ReadTree::default();
        for p in paths {
            let segs: Vec<Box<str>> = if p.is_empty() {
                Vec::new()
            } else {
                p.split('.').map(Box::from).collect()
            };
            t.add(&segs);
        }
        t
    }

    #[test]
    fn keeps_what_is_read_and_nothing_else() {
        let text = r#"{"type":"track","context":{"app":{"v":1},"traits":{"email":"a@b.c","n":[1,2]}},"properties":{"x":1.50,"y":null},"big":[1,2,3]}"#;
        let t = tree(&["type", "context.traits", "properties.x"]);
        let v = project(text, &t).unwrap();
        assert_eq!(
            v.to_string(),
            r#"{"type":"track","context":{"traits":{"email":"a@b.c","n":[1,2]}},"properties":{"x":1.50}}"#
        );
    }

    #[test]
    fn numbers_keep_their_text() {
        let text = r#"{"a":{"b":1.50},"n":12345678901234567890123,"e":1E400,"i":-0}"#;
        let v = project(text, &tree(&["a.b.c", "n.x", "e.x", "i.y"])).unwrap();
        let whole: Value = serde_json::from_str(text).unwrap();
        assert_eq!(v.to_string(), whole.to_string());
        assert!(v.to_string().contains("1.50"), "{v}");
    }

    #[test]
    fn dotted_keys_are_kept_for_joined_segments() {
        let text = r#"{"a.b":{"c":1},"a":{"b.c":2,"z":0},"q":1}"#;
        let v = project(text, &tree(&["a.b.c"])).unwrap();
        assert_eq!(v.to_string(), r#"{"a.b":{"c":1},"a":{"b.c":2}}"#);
    }

    #[test]
    fn whole_and_non_objects_are_built_whole() {
        let text = r#"{"a":[{"b":1},{"b":2,"c":3}],"s":"x\u00e9"}"#;
        let v = project(text, &tree(&["a.0.b", "s.length"])).unwrap();
        assert_eq!(v.to_string(), r#"{"a":[{"b":1},{"b":2,"c":3}],"s":"xé"}"#);
        let whole: Value = serde_json::from_str(text).unwrap();
        assert_eq!(project(text, &tree(&[""])).unwrap(), whole);
    }

    #[test]
    fn skipped_parts_are_still_validated() {
        let t = tree(&["a"]);
        for bad in [
            r#"{"a":1,"b":{"x":tru}}"#,
            r#"{"a":1,"b":[1,]}"#,
            r#"{"a":1,"b":"\u00zz"}"#,
            r#"{"a":1,"b":01}"#,
            "{\"a\":1,\"b\":\"x\u{1}\"}",
            r#"{"a":1} x"#,
            r#"{"a":1}}"#,
        ] {
            assert!(project(bad, &t).is_err(), "{bad}");
            let item = format!(r#"{{"message":{bad}}}"#);
            assert!(split_item(&item, &t).is_err(), "{item}");
        }
    }

    #[test]
    fn duplicate_keys_keep_the_first_place_and_the_last_value() {
        let v = project(r#"{"a":1,"b":2,"a":3}"#, &tree(&["a", "b"])).unwrap();
        assert_eq!(v.to_string(), r#"{"a":3,"b":2}"#);
    }

    #[test]
    fn an_array_splits_into_its_items_as_serde_json_reads_them() {
        for text in [
            "[]",
            " [ ] ",
            r#"[{"a":"x,]}\"\\"},[1,[2]],"s\"",3 , null,{"b":{"c":"]"}}]"#,
            "\n[\n {\"a\": 1} ,\n\t{\"é\": \"ü\"}\n]\n",
        ] {
            let ours = split_array(text).unwrap_or_else(|| panic!("{text}"));
            let theirs: Vec<&RawValue> = serde_json::from_str(text).unwrap();
            let theirs: Vec<&str> = theirs.iter().map(|r| r.get()).collect();
            assert_eq!(ours, theirs, "{text}");
        }
        // Not an array's shape: nothing is split.
        for text in [
            "", "{}", "[1,]", "[,1]", "[1 2]x", "[1]]", "[1", "[\"a]", "[{]", "[1],", "[1] x",
            "[}]", r#"["\"]"#,
        ] {
            assert_eq!(split_array(text), None, "{text}");
        }
        // An item that is not JSON is split as it is, for its reader to refuse.
        assert_eq!(
            split_array("[{\"a\":tru}, 1]"),
            Some(vec!["{\"a\":tru}", "1"])
        );
        // JSON's whitespace has no form feed: one stays in its item, which is then not JSON.
        assert_eq!(
            split_array("[\u{c}1,2\u{c}]"),
            Some(vec!["\u{c}1", "2\u{c}"])
        );
    }

    #[test]
    fn a_compact_array_is_cut_where_its_items_open() {
        let text = r#"[{"message":{"a":"},{\"message\":"},"m":1},{"message":[{"x":1},{"y":2}]},{"message":2}]"#;
        let guessed = guess_items(text).unwrap();
        assert_eq!(guessed, split_array(text).unwrap());
        assert_eq!(guess_items(r#" [ {"k":1} ] "#), Some(vec![r#"{"k":1}"#]));
        // A nested object of the same first key after another cuts its item into pieces that
        // are not JSON: the reading refuses them, and the exact split decides.
        let nested = r#"[{"message":{"list":[{"a":1},{"message":2}]}},{"message":3}]"#;
        let pieces = guess_items(nested).unwrap();
        assert_eq!(pieces.len(), 3);
        assert!(
            pieces
                .iter()
                .any(|p| serde_json::from_str::<&RawValue>(p).is_err())
        );
        assert_eq!(split_array(nested).unwrap().len(), 2);
        // Items between which there is whitespace are not cut: one piece, not JSON.
        let spaced = r#"[{"message":1}, {"message":2}]"#;
        assert_eq!(guess_items(spaced).unwrap().len(), 1);
        // Not a compact array of objects with a plain first key: no guess.
        for text in [
            "",
            "[]",
            "[1,2]",
            r#"[{"a\"b":1}]"#,
            r#"[{}]"#,
            r#"[{"a":1}"#,
            "{\"a\":1}",
        ] {
            assert_eq!(guess_items(text), None, "{text}");
        }
    }

    #[test]
    fn an_item_splits_into_its_members() {
        let t = tree(&["type"]);
        let text = r#"{"message":{"type":"identify","big":{"x":[1,2]}},"destination":{"Config":{"k":"v"}},"metadata":{"jobId":1},"other":[1]}"#;
        let p = split_item(text, &t).unwrap().unwrap();
        assert_eq!(p.message.to_string(), r#"{"type":"identify"}"#);
        assert_eq!(p.destination.unwrap(), r#"{"Config":{"k":"v"}}"#);
        assert_eq!(p.metadata.unwrap(), r#"{"jobId":1}"#);
        assert!(p.connection.is_none());
        // A member given twice goes to the general path.
        let twice = r#"{"message":{"type":"a"},"message":{"type":"b"}}"#;
        assert!(split_item(twice, &t).unwrap().is_none());
        let twice = r#"{"metadata":{},"message":{},"metadata":{}}"#;
        assert!(split_item(twice, &t).unwrap().is_none());
        // Not an object.
        assert!(split_item("[1]", &t).is_err());
    }
}
