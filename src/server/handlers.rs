//! Front end (server): the request handlers. The transform handler checks the name, finds the
//! destination (or hands the request to the upstream), and maps the batch on a blocking
//! thread; bad requests get a 400 with a JSON error, never a 5xx.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{OriginalUri, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

use super::{AppState, peak_rss_bytes, rfc3339};
use crate::Engine;
use crate::protocol::json::write_js_of;
use crate::protocol::processor::{Meta, failure};
use crate::spec::valid_destination_name;

const COMPACTED: &str = "json+compactedv1";

fn json_error(status: StatusCode, message: impl Into<String>) -> Response {
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

/// `POST /v0/destinations/{name}`
pub async fn transform(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    if !valid_destination_name(&name) {
        return json_error(
            StatusCode::BAD_REQUEST,
            "a destination name is letters, digits, `_` and `-`",
        );
    }
    let body = match body {
        Ok(b) => b,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "request body is larger than the limit of {} bytes",
                    state.body_limit
                ),
            );
        }
        Err(rejection) => {
            return json_error(
                StatusCode::BAD_REQUEST,
                format!("cannot read the request body: {rejection}"),
            );
        }
    };
    let registry = state.registry.load_full();
    let Some(engine) = registry.get(&name).cloned() else {
        if let Some(upstream) = &state.upstream {
            return forward(&state, upstream, &uri, headers, body).await;
        }
        return json_error(
            StatusCode::NOT_FOUND,
            format!(
                "no specs for destination `{name}`; this server has: {}",
                registry.names().join(", ")
            ),
        );
    };
    let compacted = headers
        .get("x-content-format")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case(COMPACTED));
    let label = engine.plan.name.clone();
    let result = tokio::task::spawn_blocking(move || run_batch(&engine, &body, compacted)).await;
    let (response, status, items) = match result {
        Ok(Ok((json, items))) => {
            let mut r = Response::new(Body::from(json));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            (r, StatusCode::OK, items)
        }
        Ok(Err(BadRequest(msg))) => (
            json_error(StatusCode::BAD_REQUEST, msg.clone()),
            StatusCode::BAD_REQUEST,
            Vec::new(),
        ),
        Err(e) => {
            tracing::error!(error = %e, "transform task failed");
            (
                json_error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error while transforming",
                ),
                StatusCode::INTERNAL_SERVER_ERROR,
                Vec::new(),
            )
        }
    };
    let took = started.elapsed();
    state.metrics.request(&label, status.as_u16(), &items, took);
    let events: u64 = items.iter().map(|(_, n)| n).sum();
    tracing::info!(destination = %label, status = status.as_u16(), events, ms = %format_args!("{:.3}", took.as_secs_f64() * 1e3), "transform");
    response
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
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// One compacted input made whole again, or the reason it cannot be.
enum Whole<'a> {
    Item(String),
    Missing {
        metadata: Option<&'a RawValue>,
        error: String,
    },
}

fn rebuild<'a>(c: &Compacted<'a>, input: &'a RawValue) -> Whole<'a> {
    let Ok(parts) = serde_json::from_str::<CompactedInput<'a>>(input.get()) else {
        return Whole::Missing {
            metadata: None,
            error: "a compacted input must be an object with message and metadata".into(),
        };
    };
    let ids: Ids = parts
        .metadata
        .and_then(|m| serde_json::from_str(m.get()).ok())
        .unwrap_or_default();
    let missing = |error: String| Whole::Missing {
        metadata: parts.metadata,
        error,
    };
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
    let Some(connection) = c.connections.get(&key) else {
        return missing(format!(
            "connection `{key}` is not among the request's connections"
        ));
    };
    let null = "null";
    Whole::Item(format!(
        r#"{{"message":{},"metadata":{},"destination":{},"connection":{}}}"#,
        parts.message.map_or(null, RawValue::get),
        parts.metadata.map_or(null, RawValue::get),
        destination.get(),
        connection.get(),
    ))
}

/// Parses and maps one request body; returns the response JSON and item counts by status.
#[allow(clippy::type_complexity)]
fn run_batch(
    engine: &Engine,
    body: &[u8],
    compacted: bool,
) -> Result<(Vec<u8>, Vec<(u16, u64)>), BadRequest> {
    let text = std::str::from_utf8(body)
        .map_err(|_| BadRequest("request body is not UTF-8 JSON".into()))?;
    let mut responses = Vec::new();
    let mut batch = engine.batch();
    let rebuilt: Vec<Whole<'_>>;
    if compacted {
        let c: Compacted<'_> = serde_json::from_str(text).map_err(|e| {
            BadRequest(format!(
                "x-content-format is {COMPACTED} but the body is not {{\"input\": [...], \"destinations\": {{...}}, \"connections\": {{...}}}}: {e}"
            ))
        })?;
        if c.input.is_empty() {
            return Err(BadRequest("request body has no input items".into()));
        }
        rebuilt = c.input.iter().map(|i| rebuild(&c, i)).collect();
        for w in &rebuilt {
            match w {
                Whole::Item(t) => batch.push(t, &mut responses),
                Whole::Missing { metadata, error } => {
                    let meta = metadata.map_or(Meta::Absent, Meta::Raw);
                    responses.push(failure(
                        &engine.plan,
                        meta,
                        error.clone(),
                        "instrumentation",
                    ));
                }
            }
        }
    } else {
        let trimmed = text.trim_start();
        if !trimmed.starts_with('[') {
            return Err(BadRequest(
                if serde_json::from_str::<&RawValue>(text).is_ok() {
                    "request body must be a JSON array of request items".into()
                } else {
                    "request body is not valid JSON".into()
                },
            ));
        }
        let items: Vec<&RawValue> = serde_json::from_str(text)
            .map_err(|e| BadRequest(format!("request body is not a valid JSON array: {e}")))?;
        if items.is_empty() {
            return Err(BadRequest("request body is an empty array".into()));
        }
        for item in &items {
            batch.push(item.get(), &mut responses);
        }
    }
    let mut out = Vec::with_capacity(body.len() + body.len() / 4);
    write_js_of(&mut out, &responses[..])
        .map_err(|e| BadRequest(format!("cannot write the response: {e}")))?;
    let ok = responses.iter().filter(|r| r.status() == 200).count() as u64;
    let bad = responses.len() as u64 - ok;
    Ok((out, vec![(200, ok), (400, bad)]))
}

/// Hands a request for a destination without specs here to the upstream, unchanged.
async fn forward(
    state: &AppState,
    upstream: &str,
    uri: &axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let started = Instant::now();
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("{upstream}{path}");
    let mut req = state.client.post(&url).body(body);
    for (k, v) in &headers {
        if k != header::HOST && k != header::CONTENT_LENGTH {
            req = req.header(k, v);
        }
    }
    let result = req.send().await;
    let response = match result {
        Ok(resp) => {
            let status = resp.status();
            let content_type = resp.headers().get(header::CONTENT_TYPE).cloned();
            match resp.bytes().await {
                Ok(bytes) => {
                    let mut r = Response::new(Body::from(bytes));
                    *r.status_mut() = status;
                    if let Some(ct) = content_type {
                        r.headers_mut().insert(header::CONTENT_TYPE, ct);
                    }
                    r
                }
                Err(e) => json_error(
                    StatusCode::BAD_GATEWAY,
                    format!("upstream answer could not be read: {e}"),
                ),
            }
        }
        Err(e) => json_error(
            StatusCode::BAD_GATEWAY,
            format!("upstream {upstream} did not answer: {e}"),
        ),
    };
    state.metrics.request(
        "upstream",
        response.status().as_u16(),
        &[],
        started.elapsed(),
    );
    response
}

/// `GET /health`
pub async fn health(State(state): State<Arc<AppState>>) -> Response {
    let registry = state.registry.load();
    let destinations: serde_json::Map<String, Value> = registry
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
        "upstream": state.upstream,
        "peak_rss_bytes": peak_rss_bytes(),
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /features`: what rudder-server may ask of this service, and only that.
pub async fn features() -> Response {
    let body = json!({
        "routerTransform": {},
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

pub async fn not_found(uri: OriginalUri) -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        format!("no such endpoint: {}", uri.0.path()),
    )
}
