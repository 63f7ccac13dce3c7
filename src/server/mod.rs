//! Front end: the HTTP service, a drop-in for the reference transformer's processor endpoint
//! (`POST /v0/destinations/{name}`), plus `/health`, `/features` and `/metrics`. Spec sets are
//! compiled off the request path and swapped in atomically on change or SIGHUP; requests in
//! flight finish on the set they started with.

mod handlers;
mod metrics;
mod registry;
mod reload;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

use crate::spec::Mappings;
pub use metrics::Metrics;
pub use registry::Registry;

/// The reference's default request body limit.
pub const DEFAULT_BODY_LIMIT: usize = 200 * 1024 * 1024;

/// What `serve` is told.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub mappings: Mappings,
    /// Where requests for destinations without specs here go (the reference transformer).
    pub upstream: Option<String>,
    pub body_limit: usize,
    /// Wait after a file change before reloading, so one save is one reload.
    pub debounce: Duration,
}

/// The outcome of the last reload, for /health.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    pub last_reload: Option<SystemTime>,
    pub last_error: Option<String>,
}

/// Everything a request handler can see.
pub struct AppState {
    pub registry: ArcSwap<Registry>,
    pub mappings: Mappings,
    pub upstream: Option<String>,
    pub client: reqwest::Client,
    pub metrics: Metrics,
    pub reload: Mutex<ReloadStatus>,
    pub body_limit: usize,
}

impl AppState {
    /// Compiles every destination of `mappings`; an invalid spec set is an error.
    pub fn new(
        mappings: Mappings,
        upstream: Option<String>,
        body_limit: usize,
    ) -> Result<Self, String> {
        let registry = Registry::load(&mappings)?;
        Ok(AppState {
            registry: ArcSwap::from_pointee(registry),
            mappings,
            upstream: upstream.map(|u| u.trim_end_matches('/').to_owned()),
            client: reqwest::Client::new(),
            metrics: Metrics::default(),
            reload: Mutex::new(ReloadStatus {
                last_reload: Some(SystemTime::now()),
                last_error: None,
            }),
            body_limit,
        })
    }
}

/// The service's routes.
pub fn app(state: Arc<AppState>) -> Router {
    let limit = state.body_limit;
    Router::new()
        .route("/v0/destinations/{name}", post(handlers::transform))
        .route("/health", get(handlers::health))
        .route("/features", get(handlers::features))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Runs the service until SIGTERM or Ctrl-C, then lets requests in flight finish.
pub async fn serve(config: ServerConfig) -> std::io::Result<()> {
    let state = AppState::new(
        config.mappings.clone(),
        config.upstream.clone(),
        config.body_limit,
    )
    .map_err(std::io::Error::other)?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    // A line tools can wait for (the load bench starts the server on port 0).
    println!("eventmap listening on http://{addr}");
    serve_with(
        listener,
        Arc::new(state),
        config.debounce,
        shutdown_signal(),
    )
    .await
}

/// Runs the service on a bound listener until `shutdown` resolves; requests in flight finish.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    debounce: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    {
        let reg = state.registry.load();
        let addr = listener.local_addr()?;
        tracing::info!(%addr, destinations = ?reg.names(), "listening");
    }
    reload::spawn(state.clone(), debounce);
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: no new connections, finishing requests in flight");
}

/// The peak resident set size of this process, where the system tells it.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace()
        .nth(1)?
        .parse::<u64>()
        .ok()
        .map(|kib| kib * 1024)
}

/// RFC 3339 (UTC, seconds) for /health.
pub fn rfc3339(t: SystemTime) -> String {
    let secs = t
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(SystemTime::UNIX_EPOCH), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000)),
            "2026-11-18T11:06:40Z"
        );
    }
}
