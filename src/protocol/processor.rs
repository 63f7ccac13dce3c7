//! Protocol: processor request items -> response items, in the reference's shapes and key
//! order. Two ways in: a parsed item ([`transform_value`]), and raw item text through a
//! [`Batch`], which parses only what the plan reads (the message), keeps the metadata as raw
//! JSON to echo, and parses each distinct destination once per batch. Dynamic config is
//! resolved here, before the plan runs.

use serde::de::Deserializer;
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::json::{Js, is_js_canonical, without_lone_surrogates};
use crate::eval::{self, StepFailure, dynamic};
use crate::plan::{Msg, Plan};

/// The metadata a response echoes: as received (when already in the form JavaScript would
/// print), parsed, or absent.
#[derive(Clone, Debug)]
pub enum Meta<'a> {
    Absent,
    Raw(&'a RawValue),
    Value(Value),
}

impl Meta<'_> {
    /// One member, for statTags (parses raw metadata: failures only).
    fn field(&self, key: &str) -> Option<Value> {
        match self {
            Meta::Absent => None,
            Meta::Raw(r) => match serde_json::from_str::<Value>(r.get()) {
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
        plan: &'a Plan,
        /// Rendered endpoint and headers when the spec templates them.
        endpoint: Option<String>,
        headers: Option<Vec<(String, String)>>,
        payload: Value,
        metadata: Meta<'a>,
    },
    Failure {
        metadata: Meta<'a>,
        error: String,
        stat_tags: Map<String, Value>,
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

struct MetaSer<'m, 'a>(&'m Meta<'a>);

impl Serialize for MetaSer<'_, '_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Meta::Raw(r) => r.serialize(s),
            Meta::Value(v) => Js(v).serialize(s),
            Meta::Absent => s.serialize_unit(),
        }
    }
}

struct RequestSer<'r> {
    plan: &'r Plan,
    endpoint: &'r Option<String>,
    headers: &'r Option<Vec<(String, String)>>,
    payload: &'r Value,
}

struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

struct Headers<'r>(&'r Plan, &'r Option<Vec<(String, String)>>);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.1 {
            Some(h) => {
                let mut m = s.serialize_map(Some(h.len()))?;
                for (k, v) in h {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
            None => {
                let h = &self.0.request.headers;
                let mut m = s.serialize_map(Some(h.len()))?;
                for (k, v) in h {
                    if let Msg::Text(t) = v {
                        m.serialize_entry(k, t)?;
                    }
                }
                m.end()
            }
        }
    }
}

struct Body<'r>(&'r Value);

impl Serialize for Body<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("JSON", &Js(self.0))?;
        m.serialize_entry("JSON_ARRAY", &Empty)?;
        m.serialize_entry("XML", &Empty)?;
        m.serialize_entry("FORM", &Empty)?;
        m.end()
    }
}

impl Serialize for RequestSer<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = &self.plan.request;
        let endpoint = match (self.endpoint, &r.endpoint) {
            (Some(e), _) => e.as_str(),
            (None, Msg::Text(t)) => t.as_str(),
            (None, Msg::Template { source, .. }) => source.as_str(),
        };
        let mut m = s.serialize_map(Some(9))?;
        m.serialize_entry("version", "1")?;
        m.serialize_entry("type", "REST")?;
        m.serialize_entry("method", &r.method)?;
        m.serialize_entry("endpoint", endpoint)?;
        m.serialize_entry("headers", &Headers(self.plan, self.headers))?;
        m.serialize_entry("params", &Empty)?;
        m.serialize_entry("body", &Body(self.payload))?;
        m.serialize_entry("files", &Empty)?;
        m.serialize_entry("userId", "")?;
        m.end()
    }
}

impl Serialize for Response<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Response::Success {
                plan,
                endpoint,
                headers,
                payload,
                metadata,
            } => {
                let mut m = s.serialize_map(None)?;
                let req = RequestSer {
                    plan,
                    endpoint,
                    headers,
                    payload,
                };
                m.serialize_entry("output", &req)?;
                if !matches!(metadata, Meta::Absent) {
                    m.serialize_entry("metadata", &MetaSer(metadata))?;
                }
                m.serialize_entry("statusCode", &200)?;
                m.end()
            }
            Response::Failure {
                metadata,
                error,
                stat_tags,
            } => {
                let mut m = s.serialize_map(None)?;
                if !matches!(metadata, Meta::Absent) {
                    m.serialize_entry("metadata", &MetaSer(metadata))?;
                }
                m.serialize_entry("statusCode", &400)?;
                m.serialize_entry("error", error)?;
                m.serialize_entry("statTags", &Js(&Value::Object(stat_tags.clone())))?;
                m.end()
            }
        }
    }
}

/// A request item with only the message parsed (in the same pass).
#[derive(Deserialize)]
struct RawItem<'a> {
    #[serde(default)]
    message: Value,
    #[serde(borrow, default, deserialize_with = "some_raw")]
    destination: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "some_raw")]
    metadata: Option<&'a RawValue>,
}

/// Keeps an explicit `null` as raw JSON instead of turning it into `None`.
fn some_raw<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

/// A destination as a batch has seen it: its raw text, its config parsed once.
struct CachedDestination {
    raw: String,
    config: Value,
    /// Dynamic config applies and the config holds a `{{` string: such items take the slow
    /// path, since resolving changes the event.
    dynamic: bool,
}

/// Transforms the raw items of one request (or one stream), reusing what consecutive items
/// share.
pub struct Batch<'p> {
    plan: &'p Plan,
    destination: Option<CachedDestination>,
}

impl<'p> Batch<'p> {
    pub fn new(plan: &'p Plan) -> Self {
        Batch {
            plan,
            destination: None,
        }
    }

    /// One raw request item (JSON text) -> its responses, appended to `out`.
    pub fn push<'a>(&mut self, text: &'a str, out: &mut Vec<Response<'a>>)
    where
        'p: 'a,
    {
        // The fast path reads objects only (serde would also read a struct from a list).
        let fast = if text.trim_start().starts_with('{') {
            serde_json::from_str::<RawItem<'a>>(text).ok()
        } else {
            None
        };
        let item: RawItem<'a> = match fast.ok_or(()) {
            Ok(i) => i,
            Err(_) => {
                // Not an object, duplicate keys, lone surrogates...: the general path decides.
                match serde_json::from_str::<Value>(text) {
                    Ok(v) => out.extend(transform_value(self.plan, v)),
                    Err(e) => match without_lone_surrogates(text)
                        .map(|t| serde_json::from_str::<Value>(&t))
                    {
                        Some(Ok(v)) => out.extend(transform_value(self.plan, v)),
                        _ => out.push(unreadable(self.plan, &e)),
                    },
                }
                return;
            }
        };
        let plan = self.plan;
        let hit =
            matches!((&self.destination, item.destination), (Some(c), Some(d)) if c.raw == d.get());
        if !hit {
            match cache_destination(plan, item.destination) {
                Ok(d) => self.destination = Some(d),
                Err(e) => {
                    self.destination = None;
                    out.push(unreadable(plan, &e));
                    return;
                }
            }
        }
        let Some(dest) = &self.destination else {
            return;
        };
        if dest.dynamic {
            match serde_json::from_str::<Value>(text) {
                Ok(v) => out.extend(transform_value(plan, v)),
                Err(e) => out.push(unreadable(plan, &e)),
            }
            return;
        }
        let message = match item.message {
            m @ Value::Object(_) => m,
            _ => Value::Object(Map::new()),
        };
        let (meta, md) = match item.metadata {
            None => (Meta::Absent, Value::Null),
            Some(raw) => {
                let canonical = is_js_canonical(raw.get());
                if canonical && !plan.reads_metadata {
                    (Meta::Raw(raw), Value::Null)
                } else {
                    match serde_json::from_str::<Value>(raw.get()) {
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
        respond(plan, &message, &dest.config, &md, meta, out);
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
    raw: Option<&RawValue>,
) -> Result<CachedDestination, serde_json::Error> {
    let text = raw.map(RawValue::get).unwrap_or("null");
    let mut parsed: Value = serde_json::from_str(text)?;
    let flag_off = parsed.get("hasDynamicConfig") == Some(&Value::Bool(false));
    let config = match &mut parsed {
        Value::Object(d) => d.remove("Config").unwrap_or(Value::Null),
        _ => Value::Null,
    };
    let dynamic = plan.dynamic_config && !flag_off && has_template(&config);
    Ok(CachedDestination {
        raw: text.to_owned(),
        config,
        dynamic,
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
pub fn transform_value(plan: &Plan, item: Value) -> Vec<Response<'_>> {
    match prepare(plan, item) {
        Ok(p) => {
            let md = p.metadata.clone().unwrap_or(Value::Null);
            let meta = p.metadata.map_or(Meta::Absent, Meta::Value);
            let mut out = Vec::new();
            respond(plan, &p.message, &p.config, &md, meta, &mut out);
            out
        }
        Err(r) => vec![*r],
    }
}

/// A parsed item made ready for the plan: dynamic config resolved, message and config apart.
struct Prepared {
    message: Value,
    config: Value,
    metadata: Option<Value>,
}

fn prepare(plan: &Plan, item: Value) -> Result<Prepared, Box<Response<'_>>> {
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
    }
    let message = match item.remove("message") {
        Some(m @ Value::Object(_)) => m,
        _ => Value::Object(Map::new()),
    };
    Ok(Prepared {
        message,
        config,
        metadata,
    })
}

/// Why one item answers as it does, for `--explain`.
pub enum Explanation {
    /// Each payload with the rules that wrote its fields.
    Payloads(Vec<(Value, Vec<eval::TraceEntry>)>),
    /// The step (and rule, where a `require` or `fail` fired) that refused the item.
    Refused(StepFailure),
    /// The item could not be read.
    Unreadable(String),
}

/// Runs one parsed item with tracing on.
pub fn explain(plan: &Plan, item: Value) -> Explanation {
    match prepare(plan, item) {
        Ok(p) => {
            let md = p.metadata.unwrap_or(Value::Null);
            match eval::run_traced(plan, &p.message, &p.config, &md) {
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

/// Runs the plan and wraps its payloads (or its error) as response items.
fn respond<'a>(
    plan: &'a Plan,
    message: &Value,
    config: &Value,
    md: &Value,
    meta: Meta<'a>,
    out: &mut Vec<Response<'a>>,
) {
    match eval::run(plan, message, config, md) {
        Ok(payloads) => {
            let start = out.len();
            let n = payloads.len();
            let mut meta = Some(meta);
            for (i, p) in payloads.into_iter().enumerate() {
                let m = if i + 1 == n {
                    meta.take().unwrap_or(Meta::Absent)
                } else {
                    meta.clone().unwrap_or(Meta::Absent)
                };
                match request(plan, message, config, md, p, m) {
                    Ok(r) => out.push(r),
                    Err((f, m)) => {
                        out.truncate(start);
                        out.push(step_failure(plan, m, f));
                        return;
                    }
                }
            }
        }
        Err(f) => out.push(step_failure(plan, meta, f)),
    }
}

/// The request a payload becomes: endpoint and headers rendered when the spec templates them.
#[allow(clippy::result_large_err)]
fn request<'a>(
    plan: &'a Plan,
    message: &Value,
    config: &Value,
    metadata: &Value,
    payload: Value,
    meta: Meta<'a>,
) -> Result<Response<'a>, (StepFailure, Meta<'a>)> {
    let r = &plan.request;
    if !r.templated {
        return Ok(Response::Success {
            plan,
            endpoint: None,
            headers: None,
            payload,
            metadata: meta,
        });
    }
    let mut c = Map::new();
    c.insert("message".into(), message.clone());
    c.insert("config".into(), config.clone());
    c.insert("metadata".into(), metadata.clone());
    c.insert("payload".into(), payload.clone());
    let ctx = Value::Object(c);
    let rendered = (|| -> Result<_, String> {
        let endpoint = plan.render(&r.endpoint, &ctx)?;
        let mut headers = Vec::with_capacity(r.headers.len());
        for (k, m) in &r.headers {
            headers.push((k.clone(), plan.render(m, &ctx)?));
        }
        Ok((endpoint, headers))
    })();
    match rendered {
        Ok((endpoint, headers)) => Ok(Response::Success {
            plan,
            endpoint: Some(endpoint),
            headers: Some(headers),
            payload,
            metadata: meta,
        }),
        Err(e) => Err((
            StepFailure {
                step: r.step.clone(),
                child: None,
                failure: eval::Failure::instrumentation(e),
            },
            meta,
        )),
    }
}

fn step_failure<'a>(plan: &Plan, metadata: Meta<'a>, f: StepFailure) -> Response<'a> {
    let text = format!(
        "{msg}: Workflow: {wf}, Step: {step}, ChildStep: {child}, OriginalError: {msg}",
        msg = f.failure.message,
        wf = plan.workflow,
        step = f.step,
        child = f.child.as_deref().unwrap_or("undefined"),
    );
    failure(plan, metadata, text, &f.failure.error_type)
}

/// A 400 response item with the destination's statTags.
pub fn failure<'a>(
    plan: &Plan,
    metadata: Meta<'a>,
    error: String,
    error_type: &str,
) -> Response<'a> {
    let mut tags = Map::new();
    for (i, (k, v)) in plan.stat_tags.iter().enumerate() {
        tags.insert(k.clone(), v.clone());
        if i == 0 {
            tags.insert("errorType".into(), Value::String(error_type.to_owned()));
        }
    }
    if plan.stat_tags.is_empty() {
        tags.insert("errorType".into(), Value::String(error_type.to_owned()));
    }
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
