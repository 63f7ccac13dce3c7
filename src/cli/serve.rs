//! Front end: `eventmap serve`, the HTTP service, with logs on stderr (text or JSON).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use eventmap::server::{DEFAULT_BODY_LIMIT, ServerConfig, serve};

use super::resolve_mappings;

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
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

pub fn run(args: Args) -> anyhow::Result<()> {
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
    let config = ServerConfig {
        listen: args.listen,
        mappings: resolve_mappings(args.mappings),
        upstream: args.upstream,
        body_limit: args.body_limit,
        debounce: Duration::from_millis(args.reload_debounce_ms),
    };
    // Transforms run on the blocking pool; a pool the size of the machine keeps throughput
    // and stops every burst from adding threads (each with its own allocator heap).
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .max_blocking_threads(cores * 2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config)).context("server failed")?;
    Ok(())
}
