//! Protocol: processor request items -> response items, in the reference's shapes and key
//! order. Two ways in: a parsed item ([`transform_value`]), and raw item text through a
//! [`Batch`], which parses only what the plan reads (the message), keeps the metadata as raw
//! JSON to echo, and parses each distinct destination once per batch. Dynamic config is
//! resolved here, before the plan runs.

use std::sync::LazyLock;

use crate::value::{Map, Str, Value};
use memchr::memmem::Finder;
use serde_json::value::RawValue;

use super::json::{
    WriteJs, is_js_canonical, js_canonical_end, without_lone_surrogates, write_object, write_str,
    write_value,
};
use super::project::{Parts, split_item};
use crate::eval::{self, Env, Item, Output, StepFailure, dynamic};
use crate::plan::{Plan, Shape};

/// The metadata a response echoes: as received (when already in the form JavaScript would
/// print), parsed, or absent.
#[derive(Clone, Debug)]
pub enum Meta<'a> {
    Absent,
    /// JSON text as received, checked (serde_json read it, or [`js_canonical_end`] did).
    Raw(&'a str),
    Value(Value),
}

impl Meta<'_> {
    /// One member, for statTags (parses raw metadata: failures only).
    fn field(&self, key: &str) -> Option<Value> {
        match self {
            Meta::Absent => None,
            Meta::Raw(r) => match serde_json::from_str::<Value>(r) {
                Ok(Value::Object(mut m)) => m.remove(key),
                _ => None,
            },
            Meta::Value(Value::Object(m)) => m.get(key).cloned(),
            Meta::Value(_) => None,
        }
    }
}

/// One response item.
#[derive(Debug)]
pub enum Response<'a> {
    Success {
        output: Output,
        metadata: Meta<'a>,
    },
    Failure {
        metadata: Meta<'a>,
        error: String,
        stat_tags: Map,
    },
}

impl Response<'_> {
    pub fn status(&self) -> u16 {
        match self {
            Response::Success { .. } => 200,
            Response::Failure { .. } => 400,
        }
    }

    /// The response as a JSON value, numbers and keys as JavaScript would print them.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(&super::json::to_js_string_of(self)).unwrap_or(Value::Null)
    }
}

/// The metadata as received (raw text) or as a value.
fn write_meta(out: &mut Vec<u8>, m: &Meta<'_>) {
    match m {
        Meta::Raw(r) => out.extend_from_slice(r.as_bytes()),
        Meta::Value(v) => write_value(out, v),
        Meta::Absent => out.extend_from_slice(b"null"),
    }
}

/// A fast request's response text around its payload, written once when the plan is
/// compiled: the payload goes between consecutive parts. Every field of a fast request is
/// literal except `body.JSON`, the payload.
pub fn fast_template(fields: &[(String, Shape)]) -> Vec<Vec<u8>> {
    let mut parts = vec![b"{".to_vec()];
    for (k, sh) in fields {
        write_str(text(&mut parts), k);
        text(&mut parts).push(b':');
        template_shape(&mut parts, sh);
        text(&mut parts).push(b',');
    }
    text(&mut parts).extend_from_slice(br#""userId":""}"#);
    parts
}

/// The template's text being written (after the last payload place).
fn text(parts: &mut Vec<Vec<u8>>) -> &mut Vec<u8> {
    if parts.is_empty() {
        parts.push(Vec::new());
    }
    let last = parts.len() - 1;
    &mut parts[last]
}

fn template_shape(parts: &mut Vec<Vec<u8>>, shape: &Shape) {
    match shape {
        Shape::Expr(crate::plan::Expr::Literal(v)) => write_value(text(parts), v),
        // The payload's place.
        Shape::Expr(_) => parts.push(Vec::new()),
        Shape::Object(entries) => {
            text(parts).push(b'{');
            let mut first = true;
            for (k, sh) in entries {
                if let Some(k) = k {
                    let t = text(parts);
                    if !std::mem::take(&mut first) {
                        t.push(b',');
                    }
                    write_str(t, k);
                    t.push(b':');
                    template_shape(parts, sh);
                }
            }
            text(parts).push(b'}');
        }
        Shape::List(items) => {
            text(parts).push(b'[');
            for (i, sh) in items.iter().enumerate() {
                if i > 0 {
                    text(parts).push(b',');
                }
                template_shape(parts, sh);
            }
            text(parts).push(b']');
        }
    }
}

/// The reference's rule for `userId`: absent or falsy -> "", else its text.
fn user_id(v: Option<&Value>) -> String {
    if eval::js::truthy(v) {
        eval::js::to_js_string(v)
    } else {
        String::new()
    }
}

/// The response's `output`: a fast request written from the plan, or a built one.
fn write_output(out: &mut Vec<u8>, output: &Output) {
    match output {
        Output::Payload(payload, req) => {
            for (i, part) in req.template.iter().enumerate() {
                if i > 0 {
                    write_value(out, payload);
                }
                out.extend_from_slice(part);
            }
        }
        Output::Built(Value::Object(m), _) => {
            out.push(b'{');
            let mut has = false;
            super::json::for_each_in_js_order(m, |k, v| {
                write_str(out, k);
                out.push(b':');
                if k == "userId" {
                    has = true;
                    write_str(out, &user_id(Some(v)));
                } else {
                    write_value(out, v);
                }
                out.push(b',');
            });
            if !has {
                out.extend_from_slice(br#""userId":"","#);
            }
            // The trailing comma becomes the closing brace.
            if let Some(last) = out.last_mut() {
                *last = b'}';
            }
        }
        Output::Built(other, _) => {
            // `{...value, userId}` of something that is not an object.
            let mut m = Map::new();
            crate::eval::expr::spread_into(&mut m, other.clone());
            write_output(out, &Output::Built(Value::Object(m), None));
        }
    }
}

impl WriteJs for Response<'_> {
    fn write_js(&self, out: &mut Vec<u8>) {
        match self {
            Response::Success { output, metadata } => {
                out.extend_from_slice(br#"{"output":"#);
                write_output(out, output);
                if !matches!(metadata, Meta::Absent) {
                    out.extend_from_slice(br#","metadata":"#);
                    write_meta(out, metadata);
                }
                out.extend_from_slice(br#","statusCode":200}"#);
            }
            Response::Failure {
                metadata,
                error,
                stat_tags,
            } => {
                out.push(b'{');
                if !matches!(metadata, Meta::Absent) {
                    out.extend_from_slice(br#""metadata":"#);
                    write_meta(out, metadata);
                    out.push(b',');
                }
                out.extend_from_slice(br#""statusCode":400,"error":"#);
                write_str(out, error);
                out.extend_from_slice(br#","statTags":"#);
                write_object(out, stat_tags);
                out.push(b'}');
            }
        }
    }
}

/// A destination as a batch has seen it: its raw text, its config parsed once.
struct CachedDestination {
    /// The text it was parsed from: a later item with the same text shares it.
    raw: String,
    config: Value,
    /// The whole destination (with its config), for `destination` in expressions.
    whole: Value,
    /// Dynamic config applies and the config holds a `{{` string: such items take the slow
    /// path, since resolving changes the event.
    dynamic: bool,
    /// The values of the plan's config-only `let`s for this destination.
    memo: crate::eval::Memo,
}

/// A request item read by [`Batch::read`], to be answered by [`Batch::answer`].
pub enum Read<'a> {
    /// Read into what the plan needs.
    Parts(&'a str, crate::protocol::project::Parts<'a>),
    /// For the general path to decide.
    General(&'a str),
    /// Bytes that are not UTF-8: the 1-based position of the first bad byte.
    NotUtf8(usize),
}

/// A raw request item: JSON text, or bytes that should be (a line of NDJSON).
pub trait ItemText<'a> {
    fn read(self, batch: &Batch<'_>) -> Read<'a>;
}

impl<'a> ItemText<'a> for &'a str {
    fn read(self, batch: &Batch<'_>) -> Read<'a> {
        batch.read(self)
    }
}

impl<'a> ItemText<'a> for &'a [u8] {
    fn read(self, batch: &Batch<'_>) -> Read<'a> {
        batch.read_bytes(self)
    }
}

/// Transforms the raw items of one request (or one stream), reusing what consecutive items
/// share.
pub struct Batch<'p> {
    plan: &'p Plan,
    /// The destinations seen most recently, the latest first: a body mixing a few
    /// destinations (or configs) parses each once.
    destinations: Vec<CachedDestination>,
    env: &'p Env,
    /// How many items were not JSON (answered with a 400 saying so).
    not_json: usize,
}

/// The destination's and the metadata's keys as rudder-server writes them, before their
/// values.
const DESTINATION_KEY: &str = "\"destination\":";
const METADATA_KEY: &str = "\"metadata\":";

/// How many distinct destinations a batch keeps parsed.
const DESTINATIONS_KEPT: usize = 8;

impl<'p> Batch<'p> {
    pub fn new(plan: &'p Plan, env: &'p Env) -> Self {
        Batch {
            plan,
            destinations: Vec::new(),
            env,
            not_json: 0,
        }
    }

    /// How many of the items pushed so far were not JSON text (each answered with a 400).
    pub fn not_json(&self) -> usize {
        self.not_json
    }

    /// One raw request item (JSON text) -> its responses, appended to `out`. The message is
    /// parsed into just what the plan reads; the metadata is echoed as received when it can be.
    pub fn push<'a>(&mut self, text: &'a str, out: &mut Vec<Response<'a>>)
    where
        'p: 'a,
    {
        let read = self.read(text);
        self.answer(read, out);
    }

    /// The first half of [`Batch::push`]: the item read into what the plan needs. Reading a
    /// run of items before answering them keeps each half's code hot in the processor's
    /// caches.
    pub fn read<'a>(&self, text: &'a str) -> Read<'a> {
        let plan = self.plan;
        if let Some(parts) = self.read_known_parts(text) {
            return Read::Parts(text, parts);
        }
        match split_item(text, &plan.message_reads) {
            Ok(Some(p)) if !(p.connection.is_some() && plan.reads_connection) => {
                Read::Parts(text, p)
            }
            // Members given twice, a connection the plan reads, text serde_json refuses
            // (lone surrogates are forgiven there): the general path decides.
            _ => Read::General(text),
        }
    }

    /// [`Batch::read`] without serde_json walking what needs no reading: the destination,
    /// when its text is that of the destination answered last (rudder-server sends the same
    /// one with every item), and the metadata, when it is already what JavaScript would
    /// print ([`js_canonical_end`] checks it strictly, so it is JSON, and finds its end).
    /// Each is found by `memmem` (its key, then the text compared or checked) and replaced by
    /// `0` in a copy of the item for serde_json to read. Taken only when the destination (and
    /// metadata) serde_json then finds at the item's top level is that `0` (the same text
    /// nested in the message, a member given twice, whitespace, leave the item to the plain
    /// read); the parts' texts are the item's own.
    fn read_known_parts<'a>(&self, text: &'a str) -> Option<Parts<'a>> {
        static DESTINATION: LazyLock<Finder<'static>> =
            LazyLock::new(|| Finder::new(DESTINATION_KEY));
        static METADATA: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(METADATA_KEY));
        let b = text.as_bytes();
        let known = self.destinations.first()?.raw.as_bytes();
        let destination = DESTINATION
            .find_iter(b)
            .map(|at| at + DESTINATION_KEY.len())
            .find(|&at| b[at..].starts_with(known))
            .map(|at| (at, at + known.len()))?;
        let metadata = METADATA
            .find(b)
            .map(|at| at + METADATA_KEY.len())
            .and_then(|at| Some((at, js_canonical_end(b, at)?)))
            .filter(|&(at, end)| end <= destination.0 || at >= destination.1);
        // The cut members in the item's order, each replaced by `0` in the copy.
        let mut cuts = [Some(destination), metadata];
        cuts.sort_by_key(|c| c.map_or(usize::MAX, |c| c.0));
        let mut copy = String::with_capacity(text.len());
        let mut last = 0;
        for &(at, end) in cuts.iter().flatten() {
            copy.push_str(&text[last..at]);
            copy.push('0');
            last = end;
        }
        copy.push_str(&text[last..]);
        let p = split_item(&copy, &self.plan.message_reads).ok()??;
        // A place in the copy, as a place in the item.
        let base = copy.as_ptr() as usize;
        let own = |part: &str| {
            let at = part.as_ptr() as usize - base;
            let shift: usize = cuts
                .iter()
                .flatten()
                .scan(0, |gone, &(s, e)| {
                    let zero = s - *gone;
                    *gone += e - s - 1;
                    Some((zero, e - s - 1))
                })
                .filter(|&(zero, _)| zero < at)
                .map(|(_, n)| n)
                .sum();
            (at + shift, &text[at + shift..at + shift + part.len()])
        };
        // Each cut member must be the `0` put in its place.
        let is_cut = |part: Option<&str>, cut: (usize, usize)| {
            part.is_some_and(|m| m.len() == 1 && own(m).0 == cut.0)
        };
        if !is_cut(p.destination, destination)
            || metadata.is_some_and(|m| !is_cut(p.metadata, m))
            || (p.connection.is_some() && self.plan.reads_connection)
        {
            return None;
        }
        Some(Parts {
            message: p.message,
            destination: Some(&text[destination.0..destination.1]),
            metadata: match metadata {
                Some((at, end)) => Some(&text[at..end]),
                None => p.metadata.map(|m| own(m).1),
            },
            canonical_metadata: metadata.is_some(),
            connection: p.connection.map(|c| own(c).1),
        })
    }

    /// [`Batch::read`] for bytes (a line of NDJSON), which may not be UTF-8.
    pub fn read_bytes<'a>(&self, bytes: &'a [u8]) -> Read<'a> {
        match std::str::from_utf8(bytes) {
            Ok(text) => self.read(text),
            Err(e) => Read::NotUtf8(e.valid_up_to() + 1),
        }
    }

    /// The second half of [`Batch::push`]: a read item's responses, appended to `out`.
    pub fn answer<'a>(&mut self, read: Read<'a>, out: &mut Vec<Response<'a>>)
    where
        'p: 'a,
    {
        let (text, parts) = match read {
            Read::Parts(text, parts) => (text, parts),
            Read::General(text) => return self.push_general(text, out),
            Read::NotUtf8(at) => {
                let why = format!("it is not UTF-8 text (byte {at})");
                out.push(unreadable(
                    self.plan,
                    &<serde_json::Error as serde::de::Error>::custom(why),
                ));
                return;
            }
        };
        let metadata = parts.metadata.map(|m| (m, parts.canonical_metadata));
        let whole = || serde_json::from_str::<Value>(text);
        self.run_parts(parts.message, parts.destination, metadata, &whole, out);
    }

    /// Many raw request items, a few at a time: read, then answered, so each half's code
    /// stays in the processor's caches for the few (alternating evicts it at every item).
    /// `each` gets every item's responses in order, and stops the run by returning false;
    /// false when it did.
    pub fn push_all<'a, T: ItemText<'a>>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Vec<Response<'a>>) -> bool,
    ) -> bool
    where
        'p: 'a,
    {
        const AT_ONCE: usize = 16;
        let mut items = items.into_iter().peekable();
        let mut reads = Vec::with_capacity(AT_ONCE);
        let mut responses = Vec::with_capacity(2);
        while items.peek().is_some() {
            // The first item alone, so its destination is known to the reads that follow.
            let n = if self.destinations.is_empty() {
                1
            } else {
                AT_ONCE
            };
            reads.extend(items.by_ref().take(n).map(|t| t.read(self)));
            for read in reads.drain(..) {
                responses.clear();
                self.answer(read, &mut responses);
                if !each(&mut responses) {
                    return false;
                }
            }
        }
        true
    }

    /// One raw request item as bytes (a line of NDJSON): [`Batch::push`], or, when the bytes
    /// are not UTF-8, a 400 item saying so.
    pub fn push_bytes<'a>(&mut self, bytes: &'a [u8], out: &mut Vec<Response<'a>>)
    where
        'p: 'a,
    {
        let read = self.read_bytes(bytes);
        self.answer(read, out);
    }

    /// Anything the fast path leaves (not an object, repeated members, lone surrogates, a
    /// connection the plan reads...): parsed whole, or answered with why it cannot be.
    fn push_general<'a>(&mut self, text: &'a str, out: &mut Vec<Response<'a>>)
    where
        'p: 'a,
    {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => out.extend(transform_value(self.plan, v, self.env)),
            Err(e) => {
                match without_lone_surrogates(text).map(|t| serde_json::from_str::<Value>(&t)) {
                    Some(Ok(v)) => out.extend(transform_value(self.plan, v, self.env)),
                    _ => {
                        self.not_json += 1;
                        out.push(unreadable(self.plan, &e));
                    }
                }
            }
        }
    }

    /// One request item given in parts (a compacted request's input, message and metadata,
    /// with its shared destination) -> its responses, appended to `out`. The destination is
    /// parsed once for all the inputs that share it.
    pub fn push_parts<'a>(
        &mut self,
        message: Option<&'a RawValue>,
        metadata: Option<&'a RawValue>,
        destination: &'a RawValue,
        out: &mut Vec<Response<'a>>,
    ) where
        'p: 'a,
    {
        let parse = |raw: &RawValue| {
            serde_json::from_str::<Value>(raw.get()).or_else(|e| {
                without_lone_surrogates(raw.get())
                    .map_or(Err(e), |t| serde_json::from_str::<Value>(&t))
            })
        };
        let message = match message.map(parse).transpose() {
            Ok(m) => m.unwrap_or(Value::Null),
            Err(e) => {
                out.push(unreadable(self.plan, &e));
                return;
            }
        };
        let whole = || -> Result<Value, serde_json::Error> {
            let mut m = Map::new();
            m.insert("message".into(), message.clone());
            m.insert("destination".into(), parse(destination)?);
            if let Some(md) = metadata {
                m.insert("metadata".into(), parse(md)?);
            }
            Ok(Value::Object(m))
        };
        self.run_parts(
            message.clone(),
            Some(destination.get()),
            metadata.map(|m| (m.get(), false)),
            &whole,
            out,
        );
    }

    /// The common path of both ways in: the destination from the cache, the metadata echoed
    /// raw where it can be, and the whole item (`whole`) only for dynamic config.
    fn run_parts<'a>(
        &mut self,
        message: Value,
        destination: Option<&'a str>,
        // The metadata's text, and whether it is known to be JavaScript's form already.
        metadata: Option<(&'a str, bool)>,
        whole: &dyn Fn() -> Result<Value, serde_json::Error>,
        out: &mut Vec<Response<'a>>,
    ) where
        'p: 'a,
    {
        let plan = self.plan;
        let text = destination.unwrap_or("null");
        match self.destinations.iter().position(|c| c.raw == text) {
            Some(0) => {}
            Some(i) => self.destinations[..=i].rotate_right(1),
            None => match cache_destination(plan, destination) {
                Ok(d) => {
                    self.destinations.truncate(DESTINATIONS_KEPT - 1);
                    self.destinations.insert(0, d);
                }
                Err(e) => {
                    out.push(unreadable(plan, &e));
                    return;
                }
            },
        }
        let Some(dest) = self.destinations.first() else {
            return;
        };
        if dest.dynamic {
            match whole() {
                Ok(v) => out.extend(transform_value(plan, v, self.env)),
                Err(e) => out.push(unreadable(plan, &e)),
            }
            return;
        }
        let message = match message {
            m @ Value::Object(_) => m,
            _ => Value::Object(Map::new()),
        };
        let (meta, md) = match metadata {
            None => (Meta::Absent, Value::Null),
            Some((raw, known)) => {
                let canonical = known || is_js_canonical(raw);
                if canonical && !plan.reads_metadata {
                    (Meta::Raw(raw), Value::Null)
                } else {
                    match serde_json::from_str::<Value>(raw) {
                        Ok(v) if canonical => (Meta::Raw(raw), v),
                        Ok(v) => (Meta::Value(v.clone()), v),
                        Err(e) => {
                            out.push(unreadable(plan, &e));
                            return;
                        }
                    }
                }
            }
        };
        let item = Item {
            message: &message,
            config: &dest.config,
            metadata: &md,
            destination: &dest.whole,
            connection: &Value::Null,
            memo: Some(&dest.memo),
        };
        respond(plan, item, meta, self.env, out);
    }
}

/// The 400 for item text that cannot be parsed.
fn unreadable<'a>(plan: &Plan, e: &serde_json::Error) -> Response<'a> {
    failure(plan, Meta::Absent, parse_error(e), "instrumentation")
}

/// Why item text could not be parsed, in words a sender can act on.
fn parse_error(e: &serde_json::Error) -> String {
    if e.to_string().starts_with("recursion limit exceeded") {
        "request item nests deeper than 128 levels, the engine's limit".into()
    } else {
        format!("request item is not valid JSON: {e}")
    }
}

fn cache_destination(
    plan: &Plan,
    raw: Option<&str>,
) -> Result<CachedDestination, serde_json::Error> {
    let text = raw.unwrap_or("null");
    let mut parsed: Value = serde_json::from_str(text)?;
    let flag_off = parsed.get("hasDynamicConfig") == Some(&Value::Bool(false));
    let config = match &mut parsed {
        Value::Object(d) => d.remove("Config").unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let dynamic = plan.dynamic_config && !flag_off && has_template(&config);
    if let Value::Object(d) = &mut parsed {
        d.insert("Config".into(), config.clone());
    }
    Ok(CachedDestination {
        raw: text.to_owned(),
        config,
        whole: parsed,
        dynamic,
        memo: crate::eval::Memo::default(),
    })
}

fn has_template(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains("{{"),
        Value::Array(a) => a.iter().any(has_template),
        Value::Object(m) => m.values().any(has_template),
        _ => false,
    }
}

/// Transforms one parsed request item. Never panics, never fails: every problem becomes a
/// 400 item.
pub fn transform_value<'p>(plan: &'p Plan, item: Value, env: &Env) -> Vec<Response<'p>> {
    match prepare(plan, item) {
        Ok(p) => {
            let md = p.metadata.clone().unwrap_or(Value::Null);
            let meta = p.metadata.clone().map_or(Meta::Absent, Meta::Value);
            let mut out = Vec::new();
            respond(plan, p.item(&md), meta, env, &mut out);
            out
        }
        Err(r) => vec![*r],
    }
}

/// A parsed item made ready for the plan: dynamic config resolved, message and config apart.
pub struct Prepared {
    pub message: Value,
    pub config: Value,
    pub metadata: Option<Value>,
    /// The whole destination, its config resolved.
    pub destination: Value,
    /// The item's connection (null when it has none).
    pub connection: Value,
}

impl Prepared {
    pub fn item<'a>(&'a self, md: &'a Value) -> Item<'a> {
        Item {
            message: &self.message,
            config: &self.config,
            metadata: md,
            destination: &self.destination,
            connection: &self.connection,
            memo: None,
        }
    }
}

pub fn prepare(plan: &Plan, item: Value) -> Result<Prepared, Box<Response<'_>>> {
    let Value::Object(mut item) = item else {
        let found = eval::js::type_name(Some(&item));
        return Err(Box::new(failure(
            plan,
            Meta::Absent,
            format!("request item must be a JSON object, found {found}"),
            "instrumentation",
        )));
    };
    let metadata = item.get("metadata").cloned();
    let mut destination = item.remove("destination").unwrap_or(Value::Null);
    let mut config = match &mut destination {
        Value::Object(d) => d.remove("Config").unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let dynamic =
        plan.dynamic_config && destination.get("hasDynamicConfig") != Some(&Value::Bool(false));
    if dynamic {
        item.insert("destination".into(), destination);
        let mut rest = Value::Object(item);
        dynamic::resolve(&mut config, &mut rest);
        item = match rest {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        destination = item.remove("destination").unwrap_or(Value::Null);
    }
    if let Value::Object(d) = &mut destination {
        d.insert("Config".into(), config.clone());
    }
    let message = match item.remove("message") {
        Some(m @ Value::Object(_)) => m,
        _ => Value::Object(Map::new()),
    };
    let connection = item.remove("connection").unwrap_or(Value::Null);
    Ok(Prepared {
        message,
        config,
        metadata,
        destination,
        connection,
    })
}

/// Why one item answers as it does, for `--explain`.
pub enum Explanation {
    /// Each response with the rules that wrote its payload's fields.
    Payloads(Vec<(Output, Vec<eval::TraceEntry>)>),
    /// The step (and rule, where a `require` or `fail` fired) that refused the item.
    Refused(StepFailure),
    /// The item could not be read.
    Unreadable(String),
}

/// Runs one parsed item with tracing on.
pub fn explain(plan: &Plan, item: Value, env: &Env) -> Explanation {
    match prepare(plan, item) {
        Ok(p) => {
            let md = p.metadata.clone().unwrap_or(Value::Null);
            match eval::run_traced(plan, p.item(&md), env) {
                Ok(out) => Explanation::Payloads(out),
                Err(f) => Explanation::Refused(f),
            }
        }
        Err(r) => match *r {
            Response::Failure { error, .. } => Explanation::Unreadable(error),
            Response::Success { .. } => Explanation::Unreadable(String::new()),
        },
    }
}

/// Runs the plan and wraps its responses (or its error) as response items.
fn respond<'a>(
    plan: &'a Plan,
    item: Item<'_>,
    meta: Meta<'a>,
    env: &Env,
    out: &mut Vec<Response<'a>>,
) {
    if !plan.processor {
        out.push(no_processor(plan, meta));
        return;
    }
    match eval::run(plan, item, env) {
        Ok(outputs) => {
            let n = outputs.len();
            let mut meta = Some(meta);
            for (i, output) in outputs.into_iter().enumerate() {
                let metadata = if i + 1 == n {
                    meta.take().unwrap_or(Meta::Absent)
                } else {
                    meta.clone().unwrap_or(Meta::Absent)
                };
                out.push(Response::Success { output, metadata });
            }
        }
        Err(f) => out.push(step_failure(plan, meta, f)),
    }
}

fn step_failure<'a>(plan: &Plan, metadata: Meta<'a>, f: StepFailure) -> Response<'a> {
    let text = workflow_text(&plan.workflow, &f);
    failure(plan, metadata, text, &f.failure.error_type)
}

/// A step's failure as the reference's workflow engine words it.
pub fn workflow_text(workflow: &str, f: &StepFailure) -> String {
    format!(
        "{msg}: Workflow: {workflow}, Step: {step}, ChildStep: {child}, OriginalError: {msg}",
        msg = f.failure.message,
        step = f.step,
        child = f.child.as_deref().unwrap_or("undefined"),
    )
}

/// A 400 response item with the destination's statTags.
/// The reference's answer for a destination with a router workflow only: its CDK finds no
/// processor workflow, a platform error (no errorType), its tags in the reference's order.
fn no_processor<'a>(plan: &Plan, metadata: Meta<'a>) -> Response<'a> {
    let tag = |k: &str| {
        plan.stat_tags
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    };
    let mut tags = Map::new();
    tags.insert("errorCategory".into(), Value::String("platform".into()));
    for key in ["implementation", "destType", "module"] {
        if let Some(v) = tag(key) {
            tags.insert(key.into(), v);
        }
    }
    tags.insert("feature".into(), Value::String("processor".into()));
    refusal(
        metadata,
        "Unable to identify the workflow file. Invalid feature input".into(),
        tags,
    )
}

pub fn failure<'a>(
    plan: &Plan,
    metadata: Meta<'a>,
    error: String,
    error_type: &str,
) -> Response<'a> {
    let mut tags = Map::new();
    for (i, (k, v)) in plan.stat_tags.iter().enumerate() {
        tags.insert(Str::from(k.as_str()), v.clone());
        if i == 0 {
            tags.insert("errorType".into(), Value::String(Str::from(error_type)));
        }
    }
    if plan.stat_tags.is_empty() {
        tags.insert("errorType".into(), Value::String(Str::from(error_type)));
    }
    refusal(metadata, error, tags)
}

/// A failure item: its statTags, then the destination and workspace its metadata names.
fn refusal<'a>(metadata: Meta<'a>, error: String, mut tags: Map) -> Response<'a> {
    for key in ["destinationId", "workspaceId"] {
        if let Some(v) = metadata.field(key) {
            tags.insert(key.into(), v);
        }
    }
    Response::Failure {
        metadata,
        error,
        stat_tags: tags,
    }
}
