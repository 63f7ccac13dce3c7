//! The service under hostile clients, with the real binary where signals, sockets or memory
//! are involved: memory follows the request (answers are streamed, compacted inputs share
//! their destination, a server-wide budget), slow and idle clients are closed, shutdown has a
//! deadline, the upstream forwarder behaves like a proxy, reloads never drop a destination
//! silently, and every rejected request is JSON, logged and counted.

mod common;

use common::post_raw;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use eventmap::Mappings;
use eventmap::json;
use eventmap::server::{AppState, ServerConfig, serve_with};
use eventmap::value::Value;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `eventmap serve` on a free port, with extra flags, under a shell that may lower limits.
struct Server {
    child: Child,
    addr: String,
}

impl Server {
    fn start(flags: &[&str], ulimit_files: Option<u32>) -> Server {
        let bin = env!("CARGO_BIN_EXE_eventmap");
        let mappings = repo().join("mappings");
        let mut cmdline = format!(
            "exec {bin} serve --listen 127.0.0.1:0 --mappings {} {}",
            mappings.display(),
            flags.join(" ")
        );
        if let Some(n) = ulimit_files {
            cmdline = format!("ulimit -n {n}; {cmdline}");
        }
        let mut child = Command::new("bash")
            .args(["-c", &cmdline])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line.trim().rsplit("http://").next().unwrap().to_owned();
        Server { child, addr }
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    }

    fn signal(&self, sig: &str) {
        assert!(
            Command::new("kill")
                .args([sig, &self.child.id().to_string()])
                .status()
                .unwrap()
                .success()
        );
    }

    /// Waits for the process to end; its exit status and how long that took.
    fn wait(&mut self, at_most: Duration) -> (Option<i32>, Duration) {
        let start = Instant::now();
        while start.elapsed() < at_most {
            if let Some(s) = self.child.try_wait().unwrap() {
                return (s.code(), start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        (None, start.elapsed())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_body_of_many_bad_items_is_answered_in_little_memory() {
    let srv = Server::start(&[], None);
    let n = 200_000;
    let body = format!("[{}]", vec!["{}"; n].join(","));
    let (status, answer) = post_raw(&srv.addr, "/v0/destinations/bluecore", "", body.as_bytes());
    assert!(status.contains("200"), "{status}");
    let items: Vec<Value> = serde_json::from_slice(&answer).unwrap();
    assert_eq!(items.len(), n);
    assert!(items.iter().all(|i| i["statusCode"] == 400));
    // Built in memory, the answer alone (71 MB) would be several times this.
    let peak = srv.peak_rss_kib();
    assert!(peak < 64 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn compacted_inputs_share_their_destination() {
    let srv = Server::start(&[], None);
    let n = 4_000;
    let config = json!({"bluecoreNamespace": "ns", "big": "x".repeat(500_000)});
    let inputs: Vec<Value> = (0..n)
        .map(|i| json!({"message": {"type": "identify", "userId": format!("u{i}"), "traits": {"email": "a@b.c"}},
                        "metadata": {"jobId": i, "destinationId": "d1", "sourceId": "s1"}}))
        .collect();
    let body = json!({"input": inputs, "destinations": {"d1": {"ID": "d1", "Config": config}},
                      "connections": {"s1:d1": {"sourceId": "s1", "destinationId": "d1"}}});
    let (status, answer) = post_raw(
        &srv.addr,
        "/v0/destinations/bluecore",
        "x-content-format: json+compactedv1\r\n",
        body.to_string().as_bytes(),
    );
    assert!(status.contains("200"), "{status}");
    let items: Vec<Value> = serde_json::from_slice(&answer).unwrap();
    assert_eq!(items.len(), n);
    assert!(items.iter().all(|i| i["statusCode"] == 200), "{}", items[0]);
    assert_eq!(items[7]["metadata"]["jobId"], 7);
    // A copy of the 500 KB destination per input would be 2 GB.
    let peak = srv.peak_rss_kib();
    assert!(peak < 256 * 1024, "peak RSS {peak} KiB");
}

#[test]
fn an_oversize_declared_length_is_refused_at_once() {
    let srv = Server::start(&["--body-limit", "1000000"], None);
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "POST /v0/destinations/bluecore HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 300000000\r\n\r\n").unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf[..n]);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[test]
fn slow_and_silent_clients_are_closed_and_do_not_starve_others() {
    // 300 file descriptors, 400 clients each sending one header byte a second.
    let srv = Server::start(&["--header-timeout", "2"], Some(300));
    let mut partial = TcpStream::connect(&srv.addr).unwrap();
    partial
        .write_all(b"POST /v0/destinations/bluecore HTTP/1.1\r\nHost")
        .unwrap();
    partial
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let started = Instant::now();
    let slow: Vec<std::thread::JoinHandle<()>> = (0..4)
        .map(|_| {
            let addr = srv.addr.clone();
            std::thread::spawn(move || {
                let mut socks: Vec<TcpStream> = (0..100)
                    .filter_map(|_| TcpStream::connect(&addr).ok())
                    .collect();
                for _ in 0..6 {
                    socks.retain_mut(|s| s.write_all(b"P").is_ok());
                    std::thread::sleep(Duration::from_secs(1));
                }
            })
        })
        .collect();
    let mut buf = [0u8; 64];
    let n = partial.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the partial header is closed, not answered");
    let closed_after = started.elapsed();
    assert!(
        closed_after < Duration::from_secs(4),
        "closed after {closed_after:?}"
    );
    // A normal client is answered while the slow ones are still there.
    std::thread::sleep(Duration::from_millis(500));
    let item = json!([{"message": {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}},
                       "destination": {"Config": {"bluecoreNamespace": "ns"}}, "metadata": {"jobId": 1}}]);
    let asked = Instant::now();
    let (status, _) = post_raw(
        &srv.addr,
        "/v0/destinations/bluecore",
        "",
        item.to_string().as_bytes(),
    );
    assert!(status.contains("200"), "{status}");
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "answered after {:?}",
        asked.elapsed()
    );
    for t in slow {
        t.join().unwrap();
    }
}

#[test]
fn sigterm_with_a_half_sent_request_exits_within_the_deadline() {
    let mut srv = Server::start(&["--shutdown-timeout", "2"], None);
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    write!(s, "POST /v0/destinations/bluecore HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[{{\"message\":").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    srv.signal("-TERM");
    let (code, took) = srv.wait(Duration::from_secs(10));
    assert_eq!(code, Some(0), "exit status");
    assert!(took < Duration::from_secs(4), "exited after {took:?}");
}

#[test]
fn a_second_signal_exits_at_once() {
    let mut srv = Server::start(&["--shutdown-timeout", "60"], None);
    let mut s = TcpStream::connect(&srv.addr).unwrap();
    write!(
        s,
        "POST /v0/destinations/bluecore HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n["
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    srv.signal("-TERM");
    std::thread::sleep(Duration::from_millis(300));
    srv.signal("-TERM");
    let (code, took) = srv.wait(Duration::from_secs(10));
    assert!(code.is_some(), "still running");
    assert!(took < Duration::from_secs(2), "exited after {took:?}");
}

/// A server in this process with its own config.
struct Local {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    state: Arc<AppState>,
}

impl Local {
    async fn start(config: ServerConfig) -> Local {
        let state = Arc::new(AppState::with_config(&config).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve_with(
            listener,
            state.clone(),
            config.debounce,
            async {
                let _ = rx.await;
            },
        ));
        Local {
            base,
            stop: Some(tx),
            task,
            state,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

fn config(mappings: Mappings) -> ServerConfig {
    let mut c = ServerConfig::new("127.0.0.1:0".parse().unwrap(), mappings);
    c.debounce = Duration::from_millis(50);
    c
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_forwarder_behaves_like_a_proxy() {
    use axum::extract::Request;
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    // A stub upstream: `/hang` never answers, `/moved` redirects, the rest echo their headers.
    let stub = axum::Router::new().fallback(|req: Request| async move {
        let path = req.uri().path().to_owned();
        if path.contains("HANG") {
            tokio::time::sleep(Duration::from_secs(30)).await;
        }
        if path.contains("MOVED") {
            return (
                StatusCode::TEMPORARY_REDIRECT,
                [("location", "http://127.0.0.1:9/elsewhere")],
                "",
            )
                .into_response();
        }
        let headers: eventmap::value::Map = req
            .headers()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v.to_str().unwrap_or(""))))
            .collect();
        axum::Json(json!({"headers": headers})).into_response()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = format!("http://{}", listener.local_addr().unwrap());
    let stub_task = tokio::spawn(async move { axum::serve(listener, stub).await });

    let mut c = config(Mappings::Dir(repo().join("mappings")));
    c.upstream = Some(up);
    c.upstream_timeout = Duration::from_secs(1);
    let srv = Local::start(c).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let started = Instant::now();
    let r = client
        .post(format!("{}/v0/destinations/HANG", srv.base))
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 504);
    assert!(started.elapsed() < Duration::from_secs(3));
    let e: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert!(e["error"].as_str().unwrap().contains("in time"));

    let r = client
        .post(format!("{}/v0/destinations/MOVED", srv.base))
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307, "a redirect is the answer, not followed");
    assert_eq!(r.headers()["location"], "http://127.0.0.1:9/elsewhere");

    let r = client
        .post(format!("{}/v0/destinations/OTHER", srv.base))
        .header("connection", "keep-alive, x-private")
        .header("x-private", "hop")
        .header("keep-alive", "timeout=5")
        .header("proxy-authorization", "Basic c2VjcmV0")
        .header("te", "trailers")
        .header("trailer", "x-t")
        .header("upgrade", "h2c")
        .header("proxy-connection", "keep-alive")
        .header("x-end-to-end", "kept")
        .body("[]")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let seen: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    let h = &seen["headers"];
    for hop in [
        "x-private",
        "keep-alive",
        "proxy-authorization",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
    ] {
        assert!(h.get(hop).is_none(), "{hop} reached the upstream: {h}");
    }
    assert_eq!(h["x-end-to-end"], "kept");
    assert_eq!(h["x-forwarded-for"], "127.0.0.1");
    assert_eq!(h["forwarded"], "for=127.0.0.1");

    let metrics = client
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("eventmap_upstream_requests_total{code=\"504\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("eventmap_upstream_requests_total{code=\"307\"} 1"));
    srv.stop().await;
    stub_task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_destination_moved_away_for_a_moment_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mappings");
    common::copy_dir(&repo().join("mappings"), &copy);
    let srv = Local::start(config(Mappings::Dir(copy.clone()))).await;
    let client = reqwest::Client::new();
    let item = json!([{"message": {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}},
                       "destination": {"Config": {"bluecoreNamespace": "ns"}}, "metadata": {"jobId": 1}}]);
    let ask = async |client: &reqwest::Client| {
        client
            .post(format!("{}/v0/destinations/bluecore", srv.base))
            .body(item.to_string())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ask(&client).await, 200);
    let away = dir.path().join("away");
    std::fs::rename(copy.join("bluecore"), &away).unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        ask(&client).await,
        200,
        "still served while the removal is held back"
    );
    let health: Value = client
        .get(format!("{}/health", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .map(|t| serde_json::from_str(&t).unwrap())
        .unwrap();
    assert_eq!(
        health["pending_removal"]["destinations"],
        json!(["bluecore"])
    );
    std::fs::rename(&away, copy.join("bluecore")).unwrap();
    assert_eq!(ask(&client).await, 200);
    // The return is seen at the next reload, which compiles every destination: waited for,
    // not slept for (a debug build under load takes most of a second for 48 destinations),
    // and for at most 5 s, well before the grace's own recheck (10 s after the removal) could
    // clear it without the watcher.
    let mut health = Value::Null;
    for _ in 0..100 {
        health = client
            .get(format!("{}/health", srv.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .map(|t| serde_json::from_str(&t).unwrap())
            .unwrap();
        if health["pending_removal"].is_null() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(health["pending_removal"].is_null(), "{health}");
    assert_eq!(ask(&client).await, 200);
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_that_holds_takes_effect_after_its_grace() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mappings");
    common::copy_dir(&repo().join("mappings"), &copy);
    let mut c = config(Mappings::Dir(copy.clone()));
    c.removal_grace = Duration::from_millis(700);
    let srv = Local::start(c).await;
    // The server (and its file watcher) is up once it answers.
    let health = reqwest::get(format!("{}/health", srv.base)).await.unwrap();
    assert_eq!(health.status(), 200);
    std::fs::remove_dir_all(copy.join("bluecore")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if srv.state.registry.load().get("bluecore").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "the removal never took effect");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_requests_are_json_logged_and_counted() {
    let srv = Local::start(config(Mappings::Dir(repo().join("mappings")))).await;
    let client = reqwest::Client::new();
    for (method, path, want) in [
        ("GET", "/v0/destinations/bluecore", 405),
        ("POST", "/v0/destinations/%FF", 400),
        ("POST", "/v0/destinations/nope", 404),
        ("GET", "/nowhere", 404),
    ] {
        let r = client
            .request(method.parse().unwrap(), format!("{}{path}", srv.base))
            .body("[]")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), want, "{method} {path}");
        let text = r.text().await.unwrap();
        let body: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path}: not JSON ({e}): {text}"));
        assert!(body["error"].is_string(), "{body}");
    }
    let metrics = client
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("eventmap_rejected_requests_total{code=\"404\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("eventmap_rejected_requests_total{code=\"405\"} 1"));
    assert!(metrics.contains("eventmap_rejected_requests_total{code=\"400\"} 1"));
    // Duplicate keys in metadata are echoed the way JavaScript reads them: the last wins.
    let body = r#"[{"message":{"type":"identify","userId":"u1","traits":{"email":"a@b.c"}},"destination":{"Config":{"bluecoreNamespace":"ns"}},"metadata":{"jobId":1,"jobId":2}}]"#;
    let text = client
        .post(format!("{}/v0/destinations/bluecore", srv.base))
        .body(body)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains(r#""metadata":{"jobId":2}"#), "{text}");
    srv.stop().await;
}
