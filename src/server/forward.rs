//! Front end (server): the upstream forwarder. A request for a destination without specs here
//! goes to the upstream (the reference transformer) as a proxy sends it: hop-by-hop headers
//! removed (RFC 9110 section 7.6.1), `X-Forwarded-For` and `Forwarded` set, no redirect
//! followed (a 3xx is the answer), a connect and a total timeout (504 on expiry). Each forward
//! and each failure is logged and counted.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::Response;

use super::AppState;
use super::handlers::json_error;

/// Headers that concern one connection only and never pass a proxy.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// The upstream client: no redirects, bounded waits.
pub fn client(connect_timeout: Duration, timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(connect_timeout)
        .timeout(timeout)
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The headers to pass on: every header but the hop-by-hop ones and those `Connection` names.
pub fn end_to_end(headers: &HeaderMap) -> HeaderMap {
    let named: Vec<String> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let mut out = HeaderMap::new();
    for (k, v) in headers {
        let name = k.as_str();
        if HOP_BY_HOP.contains(&name)
            || named.iter().any(|n| n == name)
            || k == header::HOST
            || k == header::CONTENT_LENGTH
        {
            continue;
        }
        out.append(k.clone(), v.clone());
    }
    out
}

fn forwarded_for(addr: &SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => format!("for={}", a.ip()),
        SocketAddr::V6(a) => format!("for=\"[{}]\"", a.ip()),
    }
}

fn append(headers: &mut HeaderMap, name: HeaderName, value: &str) {
    let joined = match headers.get(&name).and_then(|v| v.to_str().ok()) {
        Some(prior) if !prior.is_empty() => format!("{prior}, {value}"),
        _ => value.to_owned(),
    };
    if let Ok(v) = HeaderValue::from_str(&joined) {
        headers.insert(name, v);
    }
}

/// Sends a request to the upstream and answers with its answer.
pub async fn forward(
    state: &AppState,
    upstream: &str,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
    client_addr: Option<SocketAddr>,
) -> Response {
    let started = Instant::now();
    // What logs and error texts show of the upstream: its user info masked.
    let shown = crate::mask::url_credentials(upstream);
    let path = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let url = format!("{upstream}{path}");
    let mut out = end_to_end(headers);
    if let Some(addr) = client_addr {
        append(
            &mut out,
            HeaderName::from_static("x-forwarded-for"),
            &addr.ip().to_string(),
        );
        append(&mut out, header::FORWARDED, &forwarded_for(&addr));
    }
    let result = state
        .client
        .request(method.clone(), &url)
        .headers(out)
        .body(body)
        .send()
        .await;
    let mut failed = true;
    let response = match result {
        Ok(resp) => {
            let status = resp.status();
            let back = end_to_end(resp.headers());
            match resp.bytes().await {
                Ok(bytes) => {
                    failed = false;
                    let mut r = Response::new(Body::from(bytes));
                    *r.status_mut() = status;
                    *r.headers_mut() = back;
                    r
                }
                Err(e) if e.is_timeout() => json_error(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("upstream {shown} did not finish its answer in time"),
                ),
                Err(e) => json_error(
                    StatusCode::BAD_GATEWAY,
                    format!("upstream answer could not be read: {e}"),
                ),
            }
        }
        Err(e) if e.is_timeout() => json_error(
            StatusCode::GATEWAY_TIMEOUT,
            format!("upstream {shown} did not answer in time"),
        ),
        Err(e) => json_error(
            StatusCode::BAD_GATEWAY,
            format!("upstream {shown} did not answer: {}", without_url(&e)),
        ),
    };
    let code = response.status().as_u16();
    let ms = started.elapsed().as_secs_f64() * 1e3;
    if failed {
        tracing::warn!(upstream = %shown, path = uri.path(), status = code, ms = %format_args!("{ms:.3}"), "forward failed");
    } else {
        tracing::info!(upstream = %shown, path = uri.path(), status = code, ms = %format_args!("{ms:.3}"), "forwarded");
    }
    state.metrics.forwarded(code, started.elapsed());
    let mut response = response;
    response.extensions_mut().insert(super::handlers::Forwarded);
    response
}

/// A client error's text without the URL (which may carry a query).
fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(u) = e.url() {
        text = text.replace(u.as_str(), "the upstream");
    }
    text
}
