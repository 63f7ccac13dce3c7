//! The evaluator's JSON value: serde_json's `Value` shape (the same variants, numbers keeping
//! their text) with an object made for small, ordered, short-lived maps.
//!
//! Why not `serde_json::Value`: with key order kept, its object is an `IndexMap` hashed with
//! SipHash, two allocations per object and a hash of every key on every insert and lookup,
//! and the value is 80 bytes. Events' objects are small (a handful to a few dozen keys) and
//! live for one event, so here an object is one vector of entries scanned in order, with a
//! hash index (foldhash, randomly seeded) built only once it grows past [`INDEXED`] entries;
//! a value is 32 bytes. Key order is insertion order, as JavaScript's for string keys;
//! inserting an existing key replaces its value in place; removing shifts (JavaScript's
//! `delete`). Equality of objects ignores order, as serde_json's does. Texts and keys are
//! [`Str`]s, held inline up to 24 bytes, so most of an event's keys and many of its texts are
//! made and copied without allocating.
//!
//! serde_json stays the parser (this type implements serde's `Deserialize`, and `Serialize`
//! for the places that want serde); answers are written by `protocol::json`.

use std::fmt;
use std::hash::BuildHasher;

use hashbrown::DefaultHashBuilder;
use hashbrown::HashTable;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
pub use serde_json::Number;

/// A text in a value or a key: kept inline up to 24 bytes (most keys and many values), so
/// making and copying one allocates nothing.
pub type Str = compact_str::CompactString;

/// Objects up to this many entries are scanned; larger ones keep a hash index.
const INDEXED: usize = 16;

/// A JSON value.
#[derive(Clone, Default, PartialEq)]
pub enum Value {
    #[default]
    Null,
    Bool(bool),
    Number(Number),
    String(Str),
    Array(Vec<Value>),
    Object(Map),
}

/// A JSON object: entries in insertion order.
#[derive(Clone, Default)]
pub struct Map {
    entries: Vec<(Str, Value)>,
    index: Option<Box<Index>>,
}

struct Index {
    hasher: DefaultHashBuilder,
    table: HashTable<usize>,
    /// Some key may hold a `.` (set when one is added, cleared only by a rebuild): without
    /// one, a dotted path cannot name a single key, and [`Map::path_start`] need not ask.
    dotted: bool,
}

impl Clone for Index {
    fn clone(&self) -> Self {
        Index {
            hasher: self.hasher.clone(),
            table: self.table.clone(),
            dotted: self.dotted,
        }
    }
}

/// What [`Map::path_start`] found.
pub enum PathStart<'a> {
    /// The whole path is a key.
    Whole(&'a Value),
    /// The first segment's value, and whether a key begins with the segment and a `.`.
    First(Option<&'a Value>, bool),
}

/// `key` begins with `prefix` and a `.`.
#[inline]
fn is_dotted_prefix(key: &str, prefix: &str) -> bool {
    key.len() > prefix.len() && key.as_bytes()[prefix.len()] == b'.' && key.starts_with(prefix)
}

/// Key comparison that rejects on length and first byte before comparing bytes.
#[inline]
fn same_key(k: &str, key: &str) -> bool {
    k.len() == key.len() && k.as_bytes().first() == key.as_bytes().first() && k == key
}

/// One of 64 bits for a key, from its length and its first and last bytes: equal keys have
/// the same bit, so a key whose bit is not among those of the keys before it is new.
pub(crate) fn key_sketch(b: &[u8]) -> u64 {
    let (first, last) = (
        b.first().copied().unwrap_or(0),
        b.last().copied().unwrap_or(0),
    );
    let h = (b.len() as u32)
        .wrapping_mul(0x9E37_79B9)
        .wrapping_add(u32::from(first) << 8 | u32::from(last));
    1 << (h.wrapping_mul(0x85EB_CA6B) >> 26)
}

/// An object read key by key as `JSON.parse` reads it (a key given again keeps its first
/// place and takes the last value), looking for an earlier same key only when the keys'
/// sketches say there may be one: most keys are appended without comparing any.
pub(crate) struct MapReader {
    map: Map,
    seen: u64,
}

impl MapReader {
    pub(crate) fn with_capacity(n: usize) -> MapReader {
        MapReader {
            map: Map::with_capacity(n),
            seen: 0,
        }
    }

    #[inline]
    pub(crate) fn add(&mut self, key: Str, value: Value) {
        let bit = key_sketch(key.as_bytes());
        if self.seen & bit == 0 {
            self.map.push_new(key, value);
        } else {
            self.map.insert(key, value);
        }
        self.seen |= bit;
    }

    pub(crate) fn into_map(self) -> Map {
        self.map
    }
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    pub fn with_capacity(n: usize) -> Map {
        Map {
            entries: Vec::with_capacity(n),
            index: None,
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The position of `key`.
    #[inline]
    pub fn position(&self, key: &str) -> Option<usize> {
        match &self.index {
            None => self.entries.iter().position(|(k, _)| same_key(k, key)),
            Some(ix) => {
                let h = ix.hasher.hash_one(key);
                ix.table.find(h, |&i| self.entries[i].0 == key).copied()
            }
        }
    }

    #[inline]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.position(key).map(|i| &self.entries[i].1)
    }

    #[inline]
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Value> {
        self.position(key).map(|i| &mut self.entries[i].1)
    }

    #[inline]
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_some()
    }

    /// The entry at `i` (insertion order).
    pub fn get_index(&self, i: usize) -> Option<(&Str, &Value)> {
        self.entries.get(i).map(|(k, v)| (k, v))
    }

    /// Appends a key known to be absent.
    /// Appends a key the caller knows is absent (each key of a literal written once).
    pub fn push_unique(&mut self, key: Str, value: Value) {
        debug_assert!(!self.contains_key(&key), "{key} is already there");
        self.push_new(key, value);
    }

    /// Inlined where it is called (the key and value built in place), the hashing apart.
    #[inline]
    fn push_new(&mut self, key: Str, value: Value) -> usize {
        let i = self.entries.len();
        if self.index.is_some() {
            self.index_new(&key, i);
        }
        self.entries.push((key, value));
        if self.index.is_none() && self.entries.len() > INDEXED {
            self.reindex();
        }
        i
    }

    /// Adds the key about to be appended at `i` to the index.
    #[cold]
    fn index_new(&mut self, key: &Str, i: usize) {
        if let Some(ix) = &mut self.index {
            let h = ix.hasher.hash_one(key.as_str());
            ix.dotted |= key.contains('.');
            let Index { hasher, table, .. } = &mut **ix;
            let entries = &self.entries;
            table.insert_unique(h, i, |&j| hasher.hash_one(entries[j].0.as_str()));
        }
    }

    fn reindex(&mut self) {
        if self.entries.len() <= INDEXED {
            self.index = None;
            return;
        }
        let hasher = DefaultHashBuilder::default();
        let mut table = HashTable::with_capacity(self.entries.len());
        for (i, (k, _)) in self.entries.iter().enumerate() {
            let h = hasher.hash_one(k.as_str());
            table.insert_unique(h, i, |&j| hasher.hash_one(self.entries[j].0.as_str()));
        }
        let dotted = self.entries.iter().any(|(k, _)| k.contains('.'));
        self.index = Some(Box::new(Index {
            hasher,
            table,
            dotted,
        }));
    }

    /// The start of a dotted path's walk (`get-value`'s), in one pass over a small object:
    /// the value of the whole path as one key when there is such a key, else the value of its
    /// first segment and whether some key begins with that segment and a `.` (only then can
    /// joining segments find something).
    pub fn path_start(&self, whole: &str, first: &str) -> PathStart<'_> {
        match &self.index {
            Some(ix) => {
                if ix.dotted {
                    if let Some(v) = self.get(whole) {
                        return PathStart::Whole(v);
                    }
                    let joinable = self.keys().any(|k| is_dotted_prefix(k, first));
                    return PathStart::First(self.get(first), joinable);
                }
                PathStart::First(self.get(first), false)
            }
            None => {
                let (mut found, mut joinable) = (None, false);
                for (k, v) in &self.entries {
                    if k.len() == first.len() {
                        if found.is_none() && same_key(k, first) {
                            found = Some(v);
                        }
                    } else if k.len() > first.len() && is_dotted_prefix(k, first) {
                        if k.len() == whole.len() && k == whole {
                            return PathStart::Whole(v);
                        }
                        joinable = true;
                    }
                }
                PathStart::First(found, joinable)
            }
        }
    }

    /// One step of a dotted path's walk: the place of `seg`, and whether some key begins with
    /// `seg` and a `.` (the walk could then join segments, and a path may name such a key).
    pub fn step(&self, seg: &str) -> (Option<usize>, bool) {
        match &self.index {
            Some(ix) => (
                self.position(seg),
                ix.dotted && self.keys().any(|k| is_dotted_prefix(k, seg)),
            ),
            None => {
                let (mut found, mut joinable) = (None, false);
                for (i, (k, _)) in self.entries.iter().enumerate() {
                    if k.len() == seg.len() {
                        if found.is_none() && same_key(k, seg) {
                            found = Some(i);
                        }
                    } else if !joinable && is_dotted_prefix(k, seg) {
                        joinable = true;
                    }
                }
                (found, joinable)
            }
        }
    }

    /// Sets `key` to `value`; an existing key keeps its place. Returns the old value.
    pub fn insert(&mut self, key: Str, value: Value) -> Option<Value> {
        match self.position(&key) {
            Some(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            None => {
                self.push_new(key, value);
                None
            }
        }
    }

    /// The value at `key`, inserted by `default` when absent.
    pub fn entry_or_insert_with(
        &mut self,
        key: &str,
        default: impl FnOnce() -> Value,
    ) -> &mut Value {
        let i = match self.position(key) {
            Some(i) => i,
            None => self.push_new(Str::from(key), default()),
        };
        &mut self.entries[i].1
    }

    pub fn entry(&mut self, key: impl Into<Str>) -> Entry<'_> {
        Entry {
            map: self,
            key: key.into(),
        }
    }

    /// Removes `key`, shifting the entries after it (JavaScript's `delete`).
    pub fn shift_remove(&mut self, key: &str) -> Option<Value> {
        let i = self.position(key)?;
        let (_, v) = self.entries.remove(i);
        if self.index.is_some() {
            self.reindex();
        }
        Some(v)
    }

    /// Removes `key`, shifting the entries after it.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.shift_remove(key)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Str, &mut Value) -> bool) {
        let before = self.entries.len();
        self.entries.retain_mut(|(k, v)| keep(k, v));
        if self.index.is_some() && self.entries.len() != before {
            self.reindex();
        }
    }

    pub fn clear(&mut self) {
        self.entries.clear();
        self.index = None;
    }

    pub fn keys(&self) -> impl DoubleEndedIterator<Item = &Str> + ExactSizeIterator {
        self.entries.iter().map(|(k, _)| k)
    }

    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Value> + ExactSizeIterator {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = &mut Value> + ExactSizeIterator {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter(self.entries.iter())
    }

    pub fn iter_mut(
        &mut self,
    ) -> impl DoubleEndedIterator<Item = (&Str, &mut Value)> + ExactSizeIterator {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }
}

/// A slot of a [`Map`] (the subset of serde_json's entry API the engine uses).
pub struct Entry<'a> {
    map: &'a mut Map,
    key: Str,
}

impl<'a> Entry<'a> {
    pub fn or_insert(self, default: Value) -> &'a mut Value {
        self.or_insert_with(|| default)
    }

    pub fn or_insert_with(self, default: impl FnOnce() -> Value) -> &'a mut Value {
        let i = match self.map.position(&self.key) {
            Some(i) => i,
            None => self.map.push_new(self.key, default()),
        };
        &mut self.map.entries[i].1
    }
}

/// Entries in order.
pub struct Iter<'a>(std::slice::Iter<'a, (Str, Value)>);

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Str, &'a Value);
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(k, v)| (k, v))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.0.size_hint()
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.0.next_back().map(|(k, v)| (k, v))
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl<'a> IntoIterator for &'a Map {
    type Item = (&'a Str, &'a Value);
    type IntoIter = Iter<'a>;
    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl IntoIterator for Map {
    type Item = (Str, Value);
    type IntoIter = std::vec::IntoIter<(Str, Value)>;
    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl Extend<(Str, Value)> for Map {
    fn extend<I: IntoIterator<Item = (Str, Value)>>(&mut self, iter: I) {
        for (k, v) in iter {
            self.insert(k, v);
        }
    }
}

impl FromIterator<(String, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (String, Value)>>(iter: I) -> Map {
        iter.into_iter().map(|(k, v)| (Str::from(k), v)).collect()
    }
}

impl FromIterator<(Str, Value)> for Map {
    fn from_iter<I: IntoIterator<Item = (Str, Value)>>(iter: I) -> Map {
        let iter = iter.into_iter();
        let mut m = Map::with_capacity(iter.size_hint().0);
        m.extend(iter);
        m
    }
}

impl PartialEq for Map {
    /// Same keys with equal values, in any order (as serde_json's maps compare).
    fn eq(&self, other: &Map) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

impl fmt::Debug for Map {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Bool(b) => write!(f, "Bool({b})"),
            Value::Number(n) => write!(f, "Number({n})"),
            Value::String(s) => write!(f, "String({s:?})"),
            Value::Array(a) => {
                f.write_str("Array ")?;
                f.debug_list().entries(a).finish()
            }
            Value::Object(m) => {
                f.write_str("Object ")?;
                fmt::Debug::fmt(m, f)
            }
        }
    }
}

impl fmt::Display for Value {
    /// Compact JSON; `{:#}` pretty-prints.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = if f.alternate() {
            serde_json::to_string_pretty(self)
        } else {
            serde_json::to_string(self)
        };
        f.write_str(&text.map_err(|_| fmt::Error)?)
    }
}

impl Value {
    #[inline]
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }
    #[inline]
    pub fn is_boolean(&self) -> bool {
        matches!(self, Value::Bool(_))
    }
    #[inline]
    pub fn is_number(&self) -> bool {
        matches!(self, Value::Number(_))
    }
    #[inline]
    pub fn is_string(&self) -> bool {
        matches!(self, Value::String(_))
    }
    #[inline]
    pub fn is_array(&self) -> bool {
        matches!(self, Value::Array(_))
    }
    #[inline]
    pub fn is_object(&self) -> bool {
        matches!(self, Value::Object(_))
    }
    #[inline]
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
    #[inline]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }
    #[inline]
    pub fn as_array(&self) -> Option<&Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    #[inline]
    pub fn as_array_mut(&mut self) -> Option<&mut Vec<Value>> {
        match self {
            Value::Array(a) => Some(a),
            _ => None,
        }
    }
    #[inline]
    pub fn as_object(&self) -> Option<&Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
    #[inline]
    pub fn as_object_mut(&mut self) -> Option<&mut Map> {
        match self {
            Value::Object(m) => Some(m),
            _ => None,
        }
    }
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Value::Number(n) => Some(n),
            _ => None,
        }
    }
    pub fn as_f64(&self) -> Option<f64> {
        self.as_number().and_then(Number::as_f64)
    }
    pub fn as_i64(&self) -> Option<i64> {
        self.as_number().and_then(Number::as_i64)
    }
    pub fn as_u64(&self) -> Option<u64> {
        self.as_number().and_then(Number::as_u64)
    }
    pub fn is_i64(&self) -> bool {
        self.as_number().is_some_and(Number::is_i64)
    }
    pub fn is_u64(&self) -> bool {
        self.as_number().is_some_and(Number::is_u64)
    }
    pub fn is_f64(&self) -> bool {
        self.as_number().is_some_and(Number::is_f64)
    }

    /// A member of an object or an element of an array.
    #[inline]
    pub fn get<I: Key>(&self, key: I) -> Option<&Value> {
        key.index_into(self)
    }

    #[inline]
    pub fn get_mut<I: Key>(&mut self, key: I) -> Option<&mut Value> {
        key.index_into_mut(self)
    }

    /// Leaves `Null` in place of the value.
    #[inline]
    pub fn take(&mut self) -> Value {
        std::mem::take(self)
    }

    /// RFC 6901 pointer (`/a/0/b`), as serde_json's.
    pub fn pointer(&self, pointer: &str) -> Option<&Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .try_fold(self, |v, token| match v {
                Value::Object(m) => m.get(&token),
                Value::Array(a) => parse_index(&token).and_then(|i| a.get(i)),
                _ => None,
            })
    }

    pub fn pointer_mut(&mut self, pointer: &str) -> Option<&mut Value> {
        if pointer.is_empty() {
            return Some(self);
        }
        let rest = pointer.strip_prefix('/')?;
        rest.split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .try_fold(self, |v, token| match v {
                Value::Object(m) => m.get_mut(&token),
                Value::Array(a) => parse_index(&token).and_then(move |i| a.get_mut(i)),
                _ => None,
            })
    }
}

fn parse_index(s: &str) -> Option<usize> {
    if s.starts_with('+') || (s.starts_with('0') && s.len() != 1) {
        return None;
    }
    s.parse().ok()
}

/// What [`Value::get`] accepts: a member name or an index.
pub trait Key {
    fn index_into(self, v: &Value) -> Option<&Value>;
    fn index_into_mut(self, v: &mut Value) -> Option<&mut Value>;
}

impl Key for usize {
    fn index_into(self, v: &Value) -> Option<&Value> {
        v.as_array().and_then(|a| a.get(self))
    }
    fn index_into_mut(self, v: &mut Value) -> Option<&mut Value> {
        v.as_array_mut().and_then(|a| a.get_mut(self))
    }
}

impl Key for &str {
    fn index_into(self, v: &Value) -> Option<&Value> {
        v.as_object().and_then(|m| m.get(self))
    }
    fn index_into_mut(self, v: &mut Value) -> Option<&mut Value> {
        v.as_object_mut().and_then(|m| m.get_mut(self))
    }
}

impl Key for &String {
    fn index_into(self, v: &Value) -> Option<&Value> {
        self.as_str().index_into(v)
    }
    fn index_into_mut(self, v: &mut Value) -> Option<&mut Value> {
        self.as_str().index_into_mut(v)
    }
}

impl Key for &Str {
    fn index_into(self, v: &Value) -> Option<&Value> {
        self.as_str().index_into(v)
    }
    fn index_into_mut(self, v: &mut Value) -> Option<&mut Value> {
        self.as_str().index_into_mut(v)
    }
}

static NULL: Value = Value::Null;

impl std::ops::Index<&str> for Map {
    type Output = Value;
    /// Panics when absent, as serde_json's.
    fn index(&self, key: &str) -> &Value {
        self.get(key).unwrap_or_else(|| panic!("no member {key:?}"))
    }
}

macro_rules! eq_integer {
    ($($t:ty => $as:ident : $w:ty)*) => {$(
        impl PartialEq<$t> for Value {
            fn eq(&self, other: &$t) -> bool {
                self.$as().is_some_and(|n| n == *other as $w)
            }
        }
    )*};
}
eq_integer!(i32 => as_i64: i64 i64 => as_i64: i64 u16 => as_u64: u64 u32 => as_u64: u64 u64 => as_u64: u64 usize => as_u64: u64);

impl PartialEq<&str> for Value {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == Some(*other)
    }
}

impl PartialEq<str> for Value {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == Some(other)
    }
}

impl PartialEq<String> for Value {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl PartialEq<Str> for Value {
    fn eq(&self, other: &Str) -> bool {
        self.as_str() == Some(other.as_str())
    }
}

impl std::ops::IndexMut<&str> for Value {
    /// As serde_json's: `Null` becomes an object, a missing member is inserted as `Null`;
    /// panics on anything else.
    fn index_mut(&mut self, key: &str) -> &mut Value {
        if self.is_null() {
            *self = Value::Object(Map::new());
        }
        match self {
            Value::Object(m) => m.entry_or_insert_with(key, || Value::Null),
            _ => panic!("cannot index a non-object with {key:?}"),
        }
    }
}

impl PartialEq<bool> for Value {
    fn eq(&self, other: &bool) -> bool {
        self.as_bool() == Some(*other)
    }
}

impl<I: Key> std::ops::Index<I> for Value {
    type Output = Value;
    /// `Null` when absent, as serde_json's.
    fn index(&self, key: I) -> &Value {
        key.index_into(self).unwrap_or(&NULL)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::String(s.into())
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::String(Str::from(s))
    }
}
impl From<Number> for Value {
    fn from(n: Number) -> Value {
        Value::Number(n)
    }
}
impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Object(m)
    }
}
impl From<Vec<Value>> for Value {
    fn from(a: Vec<Value>) -> Value {
        Value::Array(a)
    }
}
macro_rules! from_integer {
    ($($t:ty)*) => {$(
        impl From<$t> for Value {
            fn from(n: $t) -> Value {
                Value::Number(Number::from(n))
            }
        }
    )*};
}
from_integer!(i8 i16 i32 i64 isize u8 u16 u32 u64 usize);
impl From<f64> for Value {
    /// `Null` for NaN and the infinities, as serde_json's.
    fn from(f: f64) -> Value {
        Number::from_f64(f).map_or(Value::Null, Value::Number)
    }
}
impl FromIterator<Value> for Value {
    fn from_iter<I: IntoIterator<Item = Value>>(iter: I) -> Value {
        Value::Array(iter.into_iter().collect())
    }
}

/// From serde_json's value (files, tests and other edges).
impl From<serde_json::Value> for Value {
    fn from(v: serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => Value::Number(n),
            serde_json::Value::String(s) => Value::String(s.into()),
            serde_json::Value::Array(a) => Value::Array(a.into_iter().map(Value::from).collect()),
            serde_json::Value::Object(m) => {
                let mut out = Map::with_capacity(m.len());
                for (k, v) in m {
                    out.push_new(k.into(), Value::from(v));
                }
                Value::Object(out)
            }
        }
    }
}

/// To serde_json's value.
impl From<Value> for serde_json::Value {
    fn from(v: Value) -> serde_json::Value {
        match v {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(b),
            Value::Number(n) => serde_json::Value::Number(n),
            Value::String(s) => serde_json::Value::String(s.into()),
            Value::Array(a) => {
                serde_json::Value::Array(a.into_iter().map(serde_json::Value::from).collect())
            }
            Value::Object(m) => serde_json::Value::Object(
                m.into_iter()
                    .map(|(k, v)| (k.into_string(), serde_json::Value::from(v)))
                    .collect(),
            ),
        }
    }
}

/// `json!` for this value type (serde_json's macro, converted).
#[macro_export]
macro_rules! json {
    ($($t:tt)+) => {
        $crate::value::Value::from(::serde_json::json!($($t)+))
    };
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Number(n) => n.serialize(s),
            Value::String(t) => s.serialize_str(t),
            Value::Array(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for v in a {
                    seq.serialize_element(v)?;
                }
                seq.end()
            }
            Value::Object(m) => m.serialize(s),
        }
    }
}

impl Serialize for Map {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// serde_json hands a number to `deserialize_any` as a one-member map under this key (its
/// `arbitrary_precision` feature, which keeps the number's text).
pub(crate) const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

impl<'de> Deserialize<'de> for Map {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Map, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(m) => Ok(m),
            _ => Err(de::Error::custom("expected a JSON object")),
        }
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
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
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(64));
        while let Some(v) = seq.next_element()? {
            items.push(v);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut m = MapReader::with_capacity(0);
        let mut first = true;
        while let Some(key) = map.next_key::<KeyText<'de>>()? {
            if std::mem::take(&mut first) {
                if key.as_str() == NUMBER_TOKEN {
                    let text: String = map.next_value()?;
                    return Ok(Value::Number(number_from_text(text)));
                }
                // An event's objects mostly hold a few to a dozen keys: room for eight at
                // once, not grown from four.
                m = MapReader::with_capacity(8);
            }
            let v: Value = map.next_value()?;
            m.add(key.into_str(), v);
        }
        Ok(Value::Object(m.into_map()))
    }
}

/// A number from the text serde_json's number reader accepted.
pub(crate) fn number_from_text(text: String) -> Number {
    Number::from_string_unchecked(text)
}

/// An object key, borrowed from the text when it has no escapes.
pub(crate) struct KeyText<'de>(std::borrow::Cow<'de, str>);

impl KeyText<'_> {
    #[inline]
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
    #[inline]
    pub(crate) fn into_str(self) -> Str {
        match self.0 {
            std::borrow::Cow::Borrowed(s) => Str::from(s),
            std::borrow::Cow::Owned(s) => Str::from(s),
        }
    }
}

impl<'de> Deserialize<'de> for KeyText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KeyText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(std::borrow::Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<KeyText<'de>, E> {
                Ok(KeyText(std::borrow::Cow::Owned(s.to_owned())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<KeyText<'de>, E> {
                Ok(KeyText(std::borrow::Cow::Owned(s)))
            }
        }
        d.deserialize_str(V)
    }
}

/// JSONPath queries (jsonpath-rust) run on this type directly, answering as on serde_json's.
impl jsonpath_rust::query::queryable::Queryable for Value {
    fn get(&self, key: &str) -> Option<&Self> {
        Value::get(self, key)
    }
    fn as_array(&self) -> Option<&Vec<Self>> {
        Value::as_array(self)
    }
    fn as_object(&self) -> Option<Vec<(&str, &Self)>> {
        Value::as_object(self).map(|m| m.iter().map(|(k, v)| (k.as_str(), v)).collect())
    }
    fn as_str(&self) -> Option<&str> {
        Value::as_str(self)
    }
    fn as_i64(&self) -> Option<i64> {
        Value::as_i64(self)
    }
    fn as_f64(&self) -> Option<f64> {
        Value::as_f64(self)
    }
    fn as_bool(&self) -> Option<bool> {
        Value::as_bool(self)
    }
    fn null() -> Self {
        Value::Null
    }
    fn extension_custom(name: &str, args: Vec<std::borrow::Cow<Self>>) -> Self {
        let [lhs, rhs] = args.as_slice() else {
            return Value::Null;
        };
        let has = |list: &[Value], v: &Value| list.iter().any(|x| x == v);
        match (name, lhs.as_array(), rhs.as_array()) {
            ("in", _, Some(r)) => has(r, lhs).into(),
            ("nin", _, Some(r)) => (!has(r, lhs)).into(),
            ("none_of", Some(l), Some(r)) => l.iter().all(|x| !has(r, x)).into(),
            ("any_of", Some(l), Some(r)) => l.iter().any(|x| has(r, x)).into(),
            ("subset_of", Some(l), Some(r)) => l.iter().all(|x| has(r, x)).into(),
            _ => Value::Null,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_32_bytes() {
        // serde_json's is 80 with key order kept; less than half the bytes to copy, move and drop.
        assert_eq!(std::mem::size_of::<Value>(), 32);
    }

    #[test]
    fn a_key_given_again_keeps_its_first_place_and_takes_the_last_value() {
        // As JSON.parse reads it, below and past the index threshold, with keys whose
        // sketches collide (same length, first and last bytes) and keys given again.
        for n in [3, 40] {
            let mut text = String::from("{");
            for i in 0..n {
                text.push_str(&format!(r#""k{i}x":{i},"k{i}":{i},"#));
            }
            text.push_str(r#""k1":"again","k0x":"last"}"#);
            let v: Value = serde_json::from_str(&text).unwrap();
            let m = v.as_object().unwrap();
            assert_eq!(m.len(), 2 * n);
            let keys: Vec<&str> = m.keys().map(Str::as_str).collect();
            assert_eq!(&keys[..4], ["k0x", "k0", "k1x", "k1"]);
            assert_eq!(m["k1"], "again");
            assert_eq!(m["k0x"], "last");
            assert_eq!(m["k2"], Value::from(2));
        }
    }

    #[test]
    fn objects_keep_insertion_order_past_the_index_threshold() {
        let mut m = Map::new();
        for i in (0..40).rev() {
            m.insert(format!("k{i}").into(), Value::from(i));
        }
        m.insert("k7".into(), Value::from("again"));
        assert_eq!(m.len(), 40);
        assert_eq!(m.keys().next().map(Str::as_str), Some("k39"));
        assert_eq!(m.get("k7"), Some(&Value::from("again")));
        assert_eq!(m.shift_remove("k39"), Some(Value::from(39)));
        assert_eq!(m.keys().next().map(Str::as_str), Some("k38"));
        assert!(m.get("k39").is_none() && m.get("k0").is_some());
        m.retain(|k, _| k.len() == 2);
        assert_eq!(
            m.keys().map(Str::as_str).collect::<Vec<_>>(),
            vec!["k9", "k8", "k7", "k6", "k5", "k4", "k3", "k2", "k1", "k0"]
        );
        assert_eq!(m.get("k3"), Some(&Value::from(3)));
    }

    #[test]
    fn reads_and_writes_text_as_serde_json_does() {
        let texts = [
            r#"{"b":1,"a":[1.50,-0,1e400,"x\u0000y",null,true],"b":{"c":{}},"":2}"#,
            r#"[{"k":12345678901234567890}]"#,
            r#""\ud83d\ude00""#,
        ];
        for t in texts {
            let ours: Value = serde_json::from_str(t).unwrap();
            let theirs: serde_json::Value = serde_json::from_str(t).unwrap();
            assert_eq!(serde_json::to_string(&ours).unwrap(), theirs.to_string());
            assert_eq!(Value::from(theirs.clone()), ours);
            assert_eq!(serde_json::Value::from(ours), theirs);
        }
    }

    #[test]
    fn equality_of_objects_ignores_order() {
        let a: Value = serde_json::from_str(r#"{"x":1,"y":[2]}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"y":[2],"x":1}"#).unwrap();
        assert_eq!(a, b);
        assert_ne!(
            a,
            serde_json::from_str::<Value>(r#"{"y":[2],"x":2}"#).unwrap()
        );
    }
}
