//! Front end (server): connections. At most `max_connections` are served at once (more wait in
//! the kernel's backlog); each is served by hyper (HTTP/1.1 and HTTP/2) and closed when its
//! client is too slow: a request head not complete within `header_timeout` (counted from the
//! head's first byte, or from the connection's start for its first request), or no new request
//! within `idle_timeout` of the last answer. Shutdown stops accepting, lets the requests in
//! flight finish within a deadline, and a second signal ends the process at once.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// How patient the service is with its clients; every one a flag of `eventmap serve`.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a client has to send a complete request head.
    pub header_timeout: Duration,
    /// Time a keep-alive connection may wait, idle, for its next request.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// After SIGTERM or Ctrl-C, how long requests in flight may take to finish.
    pub shutdown_timeout: Duration,
    /// Slowest average rate a request body may arrive at, in bytes per second, once
    /// `body_grace` has passed.
    pub body_min_rate: u64,
    pub body_grace: Duration,
    /// Request bytes (bodies being read and their answers being written) the service holds at
    /// once; a request that would go over gets 503 with Retry-After.
    pub inflight_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: default_max_connections(),
            shutdown_timeout: Duration::from_secs(30),
            body_min_rate: 64 * 1024,
            body_grace: Duration::from_secs(10),
            inflight_bytes: 512 * 1024 * 1024,
        }
    }
}

/// Connections the process can hold: the open-file limit less a reserve for everything else
/// (spec files, the upstream, logs), between 16 and 4096.
pub fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("Max open files"))
                .and_then(|l| l.split_whitespace().nth(3).map(str::to_owned))
        })
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(1024);
    soft.saturating_sub(64).clamp(16, 4096)
}

/// What the watchdog knows of one connection; times are milliseconds since it opened.
#[derive(Default)]
struct ConnState {
    last_activity: AtomicU64,
    /// When the first byte of a request head not yet answered arrived (0: none).
    head_started: AtomicU64,
    /// Requests being answered.
    busy: AtomicUsize,
    /// Requests answered.
    served: AtomicUsize,
}

struct Clock(Instant);

impl Clock {
    fn ms(&self) -> u64 {
        u64::try_from(self.0.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

/// The socket, noting when bytes come and go.
struct Watched {
    io: TcpStream,
    state: Arc<ConnState>,
    clock: Arc<Clock>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = self.clock.ms().max(1);
            self.state.last_activity.store(now, Ordering::Relaxed);
            if self.state.busy.load(Ordering::Relaxed) == 0 {
                let _ = self.state.head_started.compare_exchange(
                    0,
                    now,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
        }
        r
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            let now = self.clock.ms();
            self.state.last_activity.store(now, Ordering::Relaxed);
        }
        r
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

/// Marks a request answered when its response body is done (or dropped).
struct Answered {
    state: Arc<ConnState>,
    clock: Arc<Clock>,
}

impl Drop for Answered {
    fn drop(&mut self) {
        self.state
            .last_activity
            .store(self.clock.ms(), Ordering::Relaxed);
        self.state.served.fetch_add(1, Ordering::Relaxed);
        self.state.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A response body that tells the connection when it is over.
struct Tracked {
    inner: Body,
    _answered: Answered,
}

impl http_body::Body for Tracked {
    type Data = axum::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether a connection has waited too long for its client.
fn too_slow(state: &ConnState, clock: &Clock, limits: &Limits) -> bool {
    if state.busy.load(Ordering::Relaxed) > 0 {
        return false;
    }
    let now = clock.ms();
    let since = |t: u64| Duration::from_millis(now.saturating_sub(t));
    let head = state.head_started.load(Ordering::Relaxed);
    if head != 0 {
        return since(head) > limits.header_timeout;
    }
    if state.served.load(Ordering::Relaxed) == 0 {
        // A new connection gets the header timeout for its first request.
        return since(0) > limits.header_timeout;
    }
    since(state.last_activity.load(Ordering::Relaxed)) > limits.idle_timeout
}

/// Serves one connection until it ends, its client is too slow, or shutdown asks it to close
/// once its requests are answered. True when it was closed for a slow or idle client.
async fn watchdog<F: std::future::Future<Output = Result<(), E>>, E: std::fmt::Display>(
    conn: F,
    state: Arc<ConnState>,
    clock: Arc<Clock>,
    limits: Limits,
    addr: SocketAddr,
) -> bool {
    tokio::pin!(conn);
    loop {
        tokio::select! {
            result = &mut conn => {
                if let Err(e) = result {
                    tracing::debug!(%addr, error = %e, "connection ended with an error");
                }
                return false;
            }
            () = tokio::time::sleep(Duration::from_millis(250)) => {
                if too_slow(&state, &clock, &limits) {
                    tracing::info!(%addr, "closing a connection whose client is too slow or idle");
                    return true;
                }
            }
        }
    }
}

/// Accepts and serves connections until `shutdown` resolves, then gives the requests in
/// flight `limits.shutdown_timeout` to finish.
pub async fn run(
    listener: TcpListener,
    router: Router,
    app: Arc<super::AppState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let limits = app.limits;
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            a = listener.accept() => a,
        };
        let (stream, addr) = match accepted {
            Ok(a) => a,
            Err(e) => {
                // Out of file descriptors, say: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let conn_state = Arc::new(ConnState::default());
        let clock = Arc::new(Clock(Instant::now()));
        let io = TokioIo::new(Watched {
            io: stream,
            state: conn_state.clone(),
            clock: clock.clone(),
        });
        let (st, ck, router) = (conn_state.clone(), clock.clone(), router.clone());
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            st.busy.fetch_add(1, Ordering::Relaxed);
            st.head_started.store(0, Ordering::Relaxed);
            let answered = Answered {
                state: st.clone(),
                clock: ck.clone(),
            };
            req.extensions_mut().insert(ConnectInfo(addr));
            let router = router.clone();
            async move {
                let resp = router.oneshot(req.map(Body::new)).await?;
                Ok::<_, std::convert::Infallible>(resp.map(|b| {
                    Body::new(Tracked {
                        inner: b,
                        _answered: answered,
                    })
                }))
            }
        });
        let conn = graceful.watch(
            builder
                .serve_connection_with_upgrades(io, service)
                .into_owned(),
        );
        let app = app.clone();
        tokio::spawn(async move {
            if watchdog(conn, conn_state, clock, limits, addr).await {
                app.metrics.slow_client();
            }
            drop(permit);
        });
    }
    drop(listener);
    tracing::info!(
        deadline_s = limits.shutdown_timeout.as_secs_f64(),
        "shutting down: no new connections, finishing requests in flight"
    );
    if tokio::time::timeout(limits.shutdown_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown deadline reached with requests still in flight; exiting");
    }
}
