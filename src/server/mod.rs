//! Front end: the HTTP service, a drop-in for the reference transformer's processor endpoint
//! (`POST /v0/destinations/{name}`), plus `/health`, `/features` and `/metrics`. Spec sets are
//! compiled off the request path and swapped in atomically on change or SIGHUP; requests in
//! flight finish on the set they started with.

mod body;
mod forward;
mod handlers;
pub mod listen;
mod metrics;
mod registry;
mod reload;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use axum::Router;
use axum::routing::{get, post};

use crate::spec::Mappings;
pub use listen::Limits;
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
    /// How long a spec set that drops a served destination is held back before the removal
    /// takes effect (unless SIGHUP confirms it sooner).
    pub removal_grace: Duration,
    pub limits: Limits,
    pub upstream_connect_timeout: Duration,
    pub upstream_timeout: Duration,
}

impl ServerConfig {
    /// The defaults `eventmap serve` documents, for `mappings` on `listen`.
    pub fn new(listen: SocketAddr, mappings: Mappings) -> Self {
        ServerConfig {
            listen,
            mappings,
            upstream: None,
            body_limit: DEFAULT_BODY_LIMIT,
            debounce: Duration::from_millis(300),
            removal_grace: Duration::from_secs(10),
            limits: Limits::default(),
            upstream_connect_timeout: Duration::from_secs(5),
            upstream_timeout: Duration::from_secs(30),
        }
    }
}

/// The outcome of the last reload, for /health.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    pub last_reload: Option<SystemTime>,
    pub last_error: Option<String>,
    /// Destinations a newer spec set no longer has, still served until the removal is
    /// confirmed, and since when.
    pub pending_removal: Option<(Vec<String>, SystemTime)>,
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
    pub limits: Limits,
    /// Request bytes in flight, server-wide (kibibyte permits).
    pub budget: Arc<tokio::sync::Semaphore>,
    pub removal_grace: Duration,
    /// Processor requests being mapped right now, and the cores to map them on: a body is
    /// split across the cores the others leave idle.
    pub mapping: std::sync::atomic::AtomicUsize,
    pub cores: usize,
}

impl AppState {
    /// Compiles every destination of `mappings`; an invalid spec set is an error. Limits and
    /// timeouts are the defaults; see [`AppState::with_config`].
    pub fn new(
        mappings: Mappings,
        upstream: Option<String>,
        body_limit: usize,
    ) -> Result<Self, String> {
        let mut config = ServerConfig::new(SocketAddr::from(([127, 0, 0, 1], 0)), mappings);
        config.upstream = upstream;
        config.body_limit = body_limit;
        Self::with_config(&config)
    }

    pub fn with_config(config: &ServerConfig) -> Result<Self, String> {
        let registry = Registry::load(&config.mappings)?;
        Ok(AppState {
            registry: ArcSwap::from_pointee(registry),
            mappings: config.mappings.clone(),
            upstream: config
                .upstream
                .as_ref()
                .map(|u| u.trim_end_matches('/').to_owned()),
            client: forward::client(config.upstream_connect_timeout, config.upstream_timeout),
            metrics: Metrics::default(),
            reload: Mutex::new(ReloadStatus {
                last_reload: Some(SystemTime::now()),
                last_error: None,
                pending_removal: None,
            }),
            body_limit: config.body_limit,
            limits: config.limits,
            budget: body::budget(&config.limits),
            removal_grace: config.removal_grace,
            mapping: std::sync::atomic::AtomicUsize::new(0),
            cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        })
    }
}

/// The service's routes. Every response with an error status is logged (method, path,
/// status; never a body) and counted.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v0/destinations/{name}", post(handlers::transform))
        .route("/routerTransform", post(handlers::route_transform))
        .route("/health", get(handlers::health))
        .route("/features", get(handlers::features))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            handlers::log_rejections,
        ))
        .layer(axum::middleware::map_response(handlers::api_version))
        .with_state(state)
}

/// Runs the service until SIGTERM or Ctrl-C, then lets requests in flight finish within the
/// shutdown deadline; a second signal ends the process at once.
pub async fn serve(config: ServerConfig) -> std::io::Result<()> {
    let state = AppState::with_config(&config).map_err(std::io::Error::other)?;
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

/// Runs the service on a bound listener until `shutdown` resolves; requests in flight finish
/// (within the state's shutdown deadline).
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    state: Arc<AppState>,
    debounce: Duration,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    {
        let reg = state.registry.load();
        let addr = listener.local_addr()?;
        tracing::info!(%addr, destinations = ?reg.names(), limits = ?state.limits, "listening");
    }
    reload::spawn(state.clone(), debounce);
    listen::run(listener, app(state.clone()), state, shutdown).await;
    tracing::info!("stopped");
    Ok(())
}

/// The first SIGTERM or Ctrl-C; a second one ends the process at once.
async fn shutdown_signal() {
    first_signal().await;
    tokio::spawn(async {
        first_signal().await;
        tracing::warn!("second signal: exiting now, without waiting for requests in flight");
        std::process::exit(130);
    });
}

async fn first_signal() {
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
