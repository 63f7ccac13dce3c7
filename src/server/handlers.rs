//! Front end (server): the request handlers. The transform handler checks the name, finds the
//! destination (or hands the request to the upstream), and maps the batch on a blocking
//! thread; bad requests get a 400 with a JSON error, never a 5xx.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::json;
use crate::value::Value;
use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{ConnectInfo, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::body::{self, BodyError};
use super::{AppState, peak_rss_bytes, rfc3339};
use crate::Engine;
use crate::protocol::json::WriteJs;
use crate::protocol::processor::{Meta, failure};
use crate::protocol::project::{guess_items, split_array};
use crate::spec::valid_destination_name;

const COMPACTED: &str = "json+compactedv1";

pub fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({"error": message.into()});
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// What went wrong with a request as a whole.
struct BadRequest(String);

/// A response item chunk is sent once it holds this many bytes.
const CHUNK: usize = 64 * 1024;

/// `POST /v0/destinations/{name}`: the body is read within the limits, checked whole, and
/// answered item by item as the items are mapped (the answer is streamed, so memory follows
/// the request, not its answer).
pub async fn transform(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let name = match name {
        Ok(Path(n)) if valid_destination_name(&n) => n,
        _ => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "a destination name is letters, digits, `_` and `-`",
            );
        }
    };
    let (parts, body) = req.into_parts();
    let (body, held) = match read_body(&state, &parts.headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let registry = state.registry.load_full();
    let Some(engine) = registry.get(&name).cloned() else {
        if let Some(upstream) = &state.upstream {
            return forward_parts(&state, upstream, &parts, body).await;
        }
        return json_error(
            StatusCode::NOT_FOUND,
            format!(
                "no specs for destination `{name}`; this server has: {}",
                registry.names().join(", ")
            ),
        );
    };
    let compacted = parts
        .headers
        .get("x-content-format")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(COMPACTED));
    let (head_tx, head_rx) = tokio::sync::oneshot::channel();
    let (chunk_tx, chunk_rx) = tokio::sync::mpsc::channel::<Result<Bytes, std::io::Error>>(4);
    let producer = state.clone();
    tokio::task::spawn_blocking(move || {
        let busy = Busy::enter(&producer);
        let threads = producer.cores.saturating_sub(busy.others).max(1);
        let counts = run_batch(&engine, &body, compacted, threads, head_tx, &chunk_tx);
        drop(busy);
        drop(held);
        if let Some(items) = counts {
            let took = started.elapsed();
            let label = &engine.plan.name;
            producer.metrics.request(label, 200, &items, took);
            let events: u64 = items.iter().map(|(_, n)| n).sum();
            tracing::info!(destination = %label, status = 200, events, ms = %format_args!("{:.3}", took.as_secs_f64() * 1e3), "transform");
        }
    });
    match head_rx.await {
        Ok(Ok(())) => {
            let stream = tokio_stream::wrappers::ReceiverStream::new(chunk_rx);
            let mut r = Response::new(Body::from_stream(stream));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Ok(Err(BadRequest(msg))) => json_error(StatusCode::BAD_REQUEST, msg),
        Err(_) => {
            tracing::error!("transform task ended before answering");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error while transforming",
            )
        }
    }
}

/// `POST /routerTransform`: `{"input": [...], "destType": "..."}` answered `{"output":
/// [...]}` by the destination's router transform; another destination goes to the upstream.
pub async fn route_transform(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let (body, held) = match read_body(&state, &parts.headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    #[derive(Deserialize)]
    struct Head {
        #[serde(rename = "destType", default)]
        dest_type: Option<String>,
    }
    let dest_type = match serde_json::from_slice::<Head>(&body) {
        Ok(Head { dest_type: Some(d) }) => d,
        Ok(_) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                "a routerTransform body names its destination in `destType`",
            );
        }
        Err(e) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!("the routerTransform body is not a JSON object: {e}"),
            );
        }
    };
    let registry = state.registry.load_full();
    let engine = if valid_destination_name(&dest_type) {
        registry.get(&dest_type).cloned()
    } else {
        None
    };
    let Some(engine) = engine else {
        if let Some(upstream) = &state.upstream {
            return forward_parts(&state, upstream, &parts, body).await;
        }
        return json_error(
            StatusCode::NOT_FOUND,
            format!(
                "no specs for destination `{}`; this server has: {}",
                crate::eval::js::abbreviate(&dest_type),
                registry.names().join(", ")
            ),
        );
    };
    let label = engine.plan.name.clone();
    let result = tokio::task::spawn_blocking(move || {
        let answer = serde_json::from_slice::<Value>(&body)
            .map_err(|e| e.to_string())
            .and_then(|v| engine.route(v));
        drop(held);
        answer.map(|a| {
            let mut counts = [(200u16, 0u64), (400, 0)];
            if let Some(entries) = a["output"].as_array() {
                for e in entries {
                    let n = e["metadata"].as_array().map_or(1, Vec::len) as u64;
                    if e["statusCode"] == 200 {
                        counts[0].1 += n;
                    } else {
                        counts[1].1 += n;
                    }
                }
            }
            let mut out = Vec::new();
            crate::protocol::json::write_value(&mut out, &a);
            (out, counts)
        })
    })
    .await;
    let took = started.elapsed();
    match result {
        Ok(Ok((json, counts))) => {
            state.metrics.request(&label, 200, &counts, took);
            let events: u64 = counts.iter().map(|(_, n)| n).sum();
            tracing::info!(destination = %label, status = 200, events, ms = %format_args!("{:.3}", took.as_secs_f64() * 1e3), "routerTransform");
            let mut r = Response::new(Body::from(json));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            r
        }
        Ok(Err(msg)) => json_error(StatusCode::BAD_REQUEST, msg),
        Err(_) => json_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error while routing",
        ),
    }
}

fn body_error(state: &AppState, e: BodyError) -> Response {
    match e {
        BodyError::TooLarge => json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body is larger than the limit of {} bytes",
                state.body_limit
            ),
        ),
        BodyError::Busy => {
            let mut r = json_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the server holds as many request bytes as it may; retry shortly",
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            r
        }
        BodyError::Slow => {
            let mut r = json_error(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body arrived slower than {} bytes/s",
                    state.limits.body_min_rate
                ),
            );
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
        BodyError::Broken(e) => json_error(
            StatusCode::BAD_REQUEST,
            format!("cannot read the request body: {e}"),
        ),
    }
}

/// Logs and counts every response with an error status (method, path, status; never a body
/// or a query string, which may carry secrets).
pub async fn log_rejections(
    State(state): State<Arc<AppState>>,
    req: Request,
    next: Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let response = next.run(req).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        // Forwarded requests are counted as forwards; their own answer is the upstream's.
        let forwarded = response.extensions().get::<Forwarded>().is_some();
        if !forwarded {
            state.metrics.rejected(status.as_u16());
            tracing::info!(%method, path = %abbreviate_path(&path), status = status.as_u16(), "rejected");
        }
    }
    response
}

/// Every answer says `apiVersion: 2`, the reference transformer's API version: rudder-server
/// refuses a 200 without it (its processor fails the batch, its router panics). An answer
/// forwarded from the upstream keeps the upstream's own header.
pub async fn api_version(mut response: Response) -> Response {
    response
        .headers_mut()
        .entry("apiversion")
        .or_insert(HeaderValue::from_static("2"));
    response
}

/// Marks a response that came from the upstream.
#[derive(Clone, Copy)]
pub struct Forwarded;

fn abbreviate_path(p: &str) -> String {
    crate::eval::js::abbreviate(p)
}

#[derive(Deserialize)]
struct Compacted<'a> {
    #[serde(borrow)]
    input: Vec<&'a RawValue>,
    #[serde(borrow, default)]
    destinations: HashMap<String, &'a RawValue>,
    #[serde(borrow, default)]
    connections: HashMap<String, &'a RawValue>,
}

#[derive(Deserialize)]
struct CompactedInput<'a> {
    #[serde(borrow, default)]
    message: Option<&'a RawValue>,
    #[serde(borrow, default)]
    metadata: Option<&'a RawValue>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct Ids {
    destination_id: Option<Value>,
    source_id: Option<Value>,
}

fn id_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.as_str().to_owned()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// The parts of one compacted input (message, metadata, its destination), or why it has none.
#[allow(clippy::type_complexity)]
fn parts_of<'a>(
    c: &Compacted<'a>,
    input: &'a RawValue,
) -> Result<
    (Option<&'a RawValue>, Option<&'a RawValue>, &'a RawValue),
    (Option<&'a RawValue>, String),
> {
    let Ok(parts) = serde_json::from_str::<CompactedInput<'a>>(input.get()) else {
        return Err((
            None,
            "a compacted input must be an object with message and metadata".into(),
        ));
    };
    let ids: Ids = parts
        .metadata
        .and_then(|m| serde_json::from_str(m.get()).ok())
        .unwrap_or_default();
    let missing = |error: String| Err((parts.metadata, error));
    let Some(dest_id) = id_text(ids.destination_id.as_ref()) else {
        return missing("metadata.destinationId is missing: the compacted form needs it to find the destination".into());
    };
    let Some(destination) = c.destinations.get(&dest_id) else {
        return missing(format!(
            "destination `{dest_id}` is not among the request's destinations"
        ));
    };
    let source_id = id_text(ids.source_id.as_ref()).unwrap_or_default();
    let key = format!("{source_id}:{dest_id}");
    if !c.connections.contains_key(&key) {
        return missing(format!(
            "connection `{key}` is not among the request's connections"
        ));
    }
    Ok((parts.message, parts.metadata, destination))
}

/// A processor request being mapped, counted while it is.
struct Busy<'s> {
    state: &'s AppState,
    /// How many others were being mapped when this one started.
    others: usize,
}

impl<'s> Busy<'s> {
    fn enter(state: &'s AppState) -> Self {
        let others = state.mapping.fetch_add(1, Ordering::Relaxed);
        Busy { state, others }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.state.mapping.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Items a thread of a split body takes at least: below that, a thread costs more than it
/// saves.
const MIN_PER_THREAD: usize = 50;

/// The most items a body may have to be split: rudder-server sends a few hundred at a time.
const SPLIT_MAX: usize = 4 * WINDOW;

/// Items mapped at a time when a body is split: the answers of a window are held until its
/// slowest thread is done, so a window bounds that memory.
const WINDOW: usize = 1024;

/// Maps a run of items with a batch of its own, its answers written comma-separated after
/// a byte kept for what goes before them (`[` or `,`).
fn write_run(engine: &Engine, run: &[&str]) -> Written {
    // Room for answers as long as the items (most are shorter), so the buffer is not grown
    // and copied as it fills.
    let room = run
        .iter()
        .map(|t| t.len())
        .sum::<usize>()
        .max(run.len() * 1024);
    let mut w = Written {
        buf: Vec::with_capacity(room + 1),
        ok: 0,
        bad: 0,
        not_json: 0,
    };
    w.buf.push(b',');
    let mut batch = engine.batch();
    // A few items at a time, stopping at the first that is not JSON: the body's answers
    // will be dropped.
    for few in run.chunks(16) {
        batch.push_all(few.iter().copied(), |responses| {
            for r in responses.drain(..) {
                if r.status() == 200 {
                    w.ok += 1;
                } else {
                    w.bad += 1;
                }
                if w.buf.len() > 1 {
                    w.buf.push(b',');
                }
                r.write_js(&mut w.buf);
            }
            true
        });
        w.not_json = batch.not_json();
        if w.not_json > 0 {
            break;
        }
    }
    w
}

/// Answers written by one thread of a split body.
struct Written {
    /// A byte for the separator before them, then the answers.
    buf: Vec<u8>,
    ok: u64,
    bad: u64,
    /// Items that were not JSON.
    not_json: usize,
}

/// Maps `items` on `threads` threads (this one included), each taking a contiguous run, and
/// gives the answers in order.
fn map_runs(engine: &Engine, items: &[&str], threads: usize) -> Vec<Written> {
    let per = items.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let mut runs = items.chunks(per);
        let first = runs.next().unwrap_or_default();
        let others: Vec<_> = runs
            .map(|run| s.spawn(move || write_run(engine, run)))
            .collect();
        let mut all = vec![write_run(engine, first)];
        for h in others {
            all.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        }
        all
    })
}

/// Maps `items` on `threads` threads, a window at a time, and passes the answers on in
/// order. False when the client has gone.
fn map_split(engine: &Engine, items: &[&str], threads: usize, out: &mut Chunks<'_>) -> bool {
    for window in items.chunks(WINDOW) {
        for w in map_runs(engine, window, threads) {
            if !out.push_written(w) {
                return false;
            }
        }
    }
    true
}

/// Writes response items into chunks as they come, sending each full chunk on; false when
/// the client has gone (the rest is not worth mapping).
struct Chunks<'c> {
    buf: Vec<u8>,
    first: bool,
    tx: &'c tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
    ok: u64,
    bad: u64,
}

impl Chunks<'_> {
    fn push(&mut self, responses: &mut Vec<crate::protocol::Response<'_>>) -> bool {
        for r in responses.drain(..) {
            if r.status() == 200 {
                self.ok += 1;
            } else {
                self.bad += 1;
            }
            self.buf.push(if self.first { b'[' } else { b',' });
            self.first = false;
            r.write_js(&mut self.buf);
        }
        self.send_if_full()
    }

    /// Answers another thread wrote (see [`write_run`]): a chunk's worth goes on as it is,
    /// after what is held, not copied.
    fn push_written(&mut self, mut w: Written) -> bool {
        self.ok += w.ok;
        self.bad += w.bad;
        if w.buf.len() <= 1 {
            return true;
        }
        w.buf[0] = if self.first { b'[' } else { b',' };
        self.first = false;
        if w.buf.len() < CHUNK {
            self.buf.extend_from_slice(&w.buf);
            return self.send_if_full();
        }
        if !self.buf.is_empty() {
            let held = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096));
            if self.tx.blocking_send(Ok(Bytes::from(held))).is_err() {
                return false;
            }
        }
        self.tx.blocking_send(Ok(Bytes::from(w.buf))).is_ok()
    }

    /// Sends the buffer on once it holds a chunk; false when the client has gone.
    fn send_if_full(&mut self) -> bool {
        if self.buf.len() < CHUNK {
            return true;
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(CHUNK + 4096),
        ));
        self.tx.blocking_send(Ok(chunk)).is_ok()
    }

    fn finish(mut self) -> Vec<(u16, u64)> {
        if self.first {
            self.buf.push(b'[');
        }
        self.buf.push(b']');
        let _ = self.tx.blocking_send(Ok(Bytes::from(self.buf)));
        vec![(200, self.ok), (400, self.bad)]
    }
}

/// Parses and checks one request body whole (answering `head` with whether it can be
/// mapped), then maps it item by item into `tx`. Returns the item counts by status.
#[allow(clippy::type_complexity)]
fn run_batch(
    engine: &Engine,
    body: &[u8],
    compacted: bool,
    threads: usize,
    head: tokio::sync::oneshot::Sender<Result<(), BadRequest>>,
    tx: &tokio::sync::mpsc::Sender<Result<Bytes, std::io::Error>>,
) -> Option<Vec<(u16, u64)>> {
    let refuse = |head: tokio::sync::oneshot::Sender<Result<(), BadRequest>>, msg: String| {
        let _ = head.send(Err(BadRequest(msg)));
        None
    };
    let Ok(text) = std::str::from_utf8(body) else {
        return refuse(head, "request body is not UTF-8 JSON".into());
    };
    let mut out = Chunks {
        buf: Vec::with_capacity(CHUNK + 4096),
        first: true,
        tx,
        ok: 0,
        bad: 0,
    };
    let mut responses = Vec::new();
    let mut batch = engine.batch();
    if compacted {
        let c: Compacted<'_> = match serde_json::from_str(text) {
            Ok(c) => c,
            Err(e) => {
                return refuse(
                    head,
                    format!(
                        "x-content-format is {COMPACTED} but the body is not {{\"input\": [...], \"destinations\": {{...}}, \"connections\": {{...}}}}: {e}"
                    ),
                );
            }
        };
        if c.input.is_empty() {
            return refuse(head, "request body has no input items".into());
        }
        let _ = head.send(Ok(()));
        for input in &c.input {
            match parts_of(&c, input) {
                Ok((message, metadata, destination)) => {
                    batch.push_parts(message, metadata, destination, &mut responses);
                }
                Err((metadata, error)) => {
                    let meta = metadata.map_or(Meta::Absent, |m| Meta::Raw(m.get()));
                    responses.push(failure(&engine.plan, meta, error, "instrumentation"));
                }
            }
            if !out.push(&mut responses) {
                return None;
            }
        }
    } else {
        let trimmed = text.trim_start();
        if !trimmed.starts_with('[') {
            return refuse(
                head,
                if serde_json::from_str::<&RawValue>(text).is_ok() {
                    "request body must be a JSON array of request items".into()
                } else {
                    "request body is not valid JSON".into()
                },
            );
        }
        // Most bodies: the items are found without reading them (cut where rudder-server's
        // items open, else by the array's brackets, commas and strings), and read (so
        // checked) once, when mapped, on every thread, the answers held until all are
        // mapped. A piece that is not JSON (a guessed cut inside an item, or an item that is
        // not JSON) stops its thread and drops the answers: the exact split is tried next,
        // and when an item is not JSON, the body is read whole, as below, to say so.
        let splits: [&dyn Fn(&str) -> Option<Vec<&str>>; 2] = [&guess_items, &split_array];
        for split in splits {
            let Some(items) = split(text).filter(|i| !i.is_empty() && i.len() <= SPLIT_MAX) else {
                continue;
            };
            let threads = threads.min(items.len() / MIN_PER_THREAD).max(1);
            let written = map_runs(engine, &items, threads);
            if written.iter().all(|w| w.not_json == 0) {
                let _ = head.send(Ok(()));
                for w in written {
                    if !out.push_written(w) {
                        return None;
                    }
                }
                return Some(out.finish());
            }
        }
        let items: Vec<&str> = match serde_json::from_str::<Vec<&RawValue>>(text) {
            Ok(i) => i.into_iter().map(RawValue::get).collect(),
            Err(e) => return refuse(head, format!("request body is not a valid JSON array: {e}")),
        };
        if items.is_empty() {
            return refuse(head, "request body is an empty array".into());
        }
        let _ = head.send(Ok(()));
        // A very large body is memory-bound, not CPU-bound: it streams on one thread.
        let threads = if items.len() > SPLIT_MAX {
            1
        } else {
            threads.min(items.len() / MIN_PER_THREAD)
        };
        if threads > 1 {
            if !map_split(engine, &items, threads, &mut out) {
                return None;
            }
        } else {
            if !batch.push_all(items.iter().copied(), |r| out.push(r)) {
                return None;
            }
        }
    }
    Some(out.finish())
}

/// `GET /health`
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    let registry = state.registry.load();
    let destinations: crate::value::Map = registry
        .engines
        .iter()
        .map(|(name, e)| (name.clone(), json!({"spec_hash": e.plan.spec_hash, "message_types": if e.plan.message_type.any { json!("any") } else { json!(e.plan.message_type.supported) }})))
        .collect();
    let status = state
        .reload
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let body = json!({
        "service": "UP",
        "version": env!("CARGO_PKG_VERSION"),
        "destinations": destinations,
        "last_reload": status.last_reload.map(rfc3339),
        "last_reload_error": status.last_error,
        "pending_removal": status.pending_removal.as_ref().map(|(names, since)| json!({
            "destinations": names,
            "since": rfc3339(*since),
            "grace_seconds": state.removal_grace.as_secs_f64(),
        })),
        "upstream": state.upstream.as_deref().map(crate::mask::url_credentials),
        "peak_rss_bytes": peak_rss_bytes(),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /features`: what rudder-server may ask of this service, and only that: every
/// destination served here answers the router transform. With an upstream, the upstream's
/// answer: rudder-server reads its flags for every destination (those forwarded too) and for
/// the reference's other services, and refuses to start without its source-transform flags.
pub async fn features(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if let Some(upstream) = &state.upstream {
        return forward_whole(&state, upstream, req).await;
    }
    let registry = state.registry.load();
    let router: crate::value::Map = registry
        .names()
        .into_iter()
        .map(|n| (n.to_ascii_uppercase(), Value::Bool(true)))
        .collect();
    let body = json!({
        "routerTransform": router,
        "regulations": [],
        "supportDestTransformCompactedPayloadV1": true,
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /metrics`
pub async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn method_not_allowed(req: Request) -> Response {
    json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{} is not allowed on {}",
            req.method(),
            abbreviate_path(req.uri().path())
        ),
    )
}

/// Any other path is the upstream's (rudder-server sends user transformations, tracking-plan
/// validation, source transforms and delivery to its one transformer URL), or a 404.
pub async fn not_found(State(state): State<Arc<AppState>>, req: Request) -> Response {
    if let Some(upstream) = &state.upstream {
        return forward_whole(&state, upstream, req).await;
    }
    json_error(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {}", req.uri().path()),
    )
}

/// A request's body, read within the body limit, the timeouts and the in-flight budget (its
/// bytes held until `Held` is dropped), or the answer that refuses it.
async fn read_body(
    state: &AppState,
    headers: &axum::http::HeaderMap,
    body: Body,
) -> Result<(Bytes, body::Held), Response> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    body::read(
        body,
        declared,
        state.body_limit,
        &state.limits,
        &state.budget,
    )
    .await
    .map_err(|e| body_error(state, e))
}

/// Forwards a request, its head and read body, to the upstream, saying whom it came from.
async fn forward_parts(
    state: &AppState,
    upstream: &str,
    parts: &axum::http::request::Parts,
    body: Bytes,
) -> Response {
    let client = parts
        .extensions
        .get::<ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0);
    super::forward::forward(
        state,
        upstream,
        &parts.method,
        &parts.uri,
        &parts.headers,
        body,
        client,
    )
    .await
}

/// Reads a request's body within the limits and forwards the request to the upstream.
async fn forward_whole(state: &AppState, upstream: &str, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let (body, held) = match read_body(state, &parts.headers, body).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let response = forward_parts(state, upstream, &parts, body).await;
    drop(held);
    response
}
