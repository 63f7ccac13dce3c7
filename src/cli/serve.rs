//! Front end: `eventmap serve`, the HTTP service, with logs on stderr (text or JSON).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use eventmap::server::{DEFAULT_BODY_LIMIT, Limits, ServerConfig, serve};

use super::Found;

#[derive(clap::Args)]
pub struct Args {
    /// The mappings folder (default: $EVENTMAP_MAPPINGS, ./mappings, or the embedded copy).
    #[arg(long)]
    mappings: Option<PathBuf>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9090")]
    listen: SocketAddr,
    /// Where to forward requests for destinations without specs here (the reference
    /// transformer, e.g. http://127.0.0.1:9091).
    #[arg(long)]
    upstream: Option<String>,
    /// Largest request body, in bytes (the reference's default: 200 MiB).
    #[arg(long, default_value_t = DEFAULT_BODY_LIMIT)]
    body_limit: usize,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// How long to wait after a spec change before reloading, in milliseconds.
    #[arg(long, default_value_t = 300)]
    reload_debounce_ms: u64,
    /// Seconds a spec set that no longer has a served destination is held back before the
    /// destination stops being served (SIGHUP confirms at once).
    #[arg(long, default_value_t = 10.0)]
    removal_grace: f64,
    /// Seconds a client has to send a complete request head.
    #[arg(long, default_value_t = 10.0)]
    header_timeout: f64,
    /// Seconds a keep-alive connection may stay idle between requests.
    #[arg(long, default_value_t = 60.0)]
    idle_timeout: f64,
    /// Slowest average rate, in bytes per second, a request body may arrive at once its
    /// first 10 seconds have passed (slower: 408).
    #[arg(long, default_value_t = 64 * 1024)]
    body_min_rate: u64,
    /// Connections served at once (default: the open-file limit less 64, at most 4096);
    /// more wait in the kernel's backlog.
    #[arg(long)]
    max_connections: Option<usize>,
    /// Request bytes held at once, server-wide (bodies and their answers in flight); a request
    /// over it gets 503 with Retry-After.
    #[arg(long, default_value_t = 512 * 1024 * 1024)]
    inflight_limit: u64,
    /// After SIGTERM or Ctrl-C, seconds requests in flight have to finish; a second signal
    /// exits at once.
    #[arg(long, default_value_t = 30.0)]
    shutdown_timeout: f64,
    /// Seconds to connect to the upstream (then 504).
    #[arg(long, default_value_t = 5.0)]
    upstream_connect_timeout: f64,
    /// Seconds the upstream has to answer in full (then 504).
    #[arg(long, default_value_t = 30.0)]
    upstream_timeout: f64,
}

fn seconds(flag: &str, s: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(s)
        .map_err(|_| anyhow::anyhow!("--{flag} must be a number of seconds >= 0, got {s}"))
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// The allocator gives memory back to the system only when told to purge promptly; a service
/// that answers a 200 MB request now and small ones after should not keep the 200 MB. The
/// setting is read when the process starts, so `serve` starts itself again with it (the same
/// process: `exec`), unless the operator chose a value.
#[cfg(unix)]
fn purge_promptly() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let err = std::process::Command::new(exe)
        .args(std::env::args_os().skip(1))
        .env("MIMALLOC_PURGE_DELAY", "0")
        .exec();
    // `exec` only returns when it failed: serve anyway.
    eprintln!("eventmap: could not restart with prompt memory purging ({err}); serving anyway");
}

pub fn run(args: Args) -> anyhow::Result<()> {
    #[cfg(unix)]
    purge_promptly();
    let filter = tracing_subscriber::EnvFilter::try_from_env("EVENTMAP_LOG")
        .unwrap_or_else(|_| "info".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    match args.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
    if let Some(u) = &args.upstream
        && !u.starts_with("http://")
    {
        anyhow::bail!(
            "--upstream must be an http:// URL (this build speaks plain HTTP to a transformer on the same host or network), got {u}"
        );
    }
    let defaults = Limits::default();
    let found = Found::resolve(args.mappings);
    tracing::info!("{}", found.describe());
    let mut config = ServerConfig::new(args.listen, found.mappings);
    config.upstream = args.upstream;
    config.body_limit = args.body_limit;
    config.debounce = Duration::from_millis(args.reload_debounce_ms);
    config.removal_grace = seconds("removal-grace", args.removal_grace)?;
    config.upstream_connect_timeout =
        seconds("upstream-connect-timeout", args.upstream_connect_timeout)?;
    config.upstream_timeout = seconds("upstream-timeout", args.upstream_timeout)?;
    config.limits = Limits {
        header_timeout: seconds("header-timeout", args.header_timeout)?,
        idle_timeout: seconds("idle-timeout", args.idle_timeout)?,
        max_connections: args.max_connections.unwrap_or(defaults.max_connections),
        shutdown_timeout: seconds("shutdown-timeout", args.shutdown_timeout)?,
        body_min_rate: args.body_min_rate,
        body_grace: defaults.body_grace,
        inflight_bytes: args.inflight_limit,
    };
    // Transforms run on the blocking pool; a pool the size of the machine keeps throughput
    // and stops every burst from adding threads (each with its own allocator arena).
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .max_blocking_threads(cores * 2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(serve(config));
    // Requests past the shutdown deadline are not waited for.
    runtime.shutdown_timeout(Duration::from_millis(100));
    result.context("server failed")?;
    Ok(())
}
