//! The HTTP service: `app()` called directly for the request shapes, and a real socket on
//! loopback for conformance (plain and compacted), reload, concurrency, the upstream hand-off
//! and graceful shutdown (with the real binary).

mod common;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use eventmap::json;
use eventmap::server::{AppState, app, serve_with};
use eventmap::value::Value;
use eventmap::{Engine, Mappings};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn state(mappings: Mappings, limit: usize, upstream: Option<String>) -> Arc<AppState> {
    Arc::new(AppState::new(mappings, upstream, limit).expect("specs load"))
}

fn shipped() -> Mappings {
    Mappings::Dir(repo().join("mappings"))
}

fn item(message: Value, job: u64) -> Value {
    json!({
        "message": message,
        "destination": {"ID": "d1", "Config": {"bluecoreNamespace": "ns", "eventsMapping": []}},
        "metadata": {"jobId": job, "destinationId": "d1", "sourceId": "s1", "workspaceId": "w1"}
    })
}

fn identify() -> Value {
    json!({"type": "identify", "userId": "u1", "traits": {"email": "a@b.co", "plan": "gold"}})
}

async fn call(
    app: axum::Router,
    method: &str,
    uri: &str,
    body: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = app
        .oneshot(req.body(Body::from(body.to_owned())).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    (status, v)
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let app = app(state(shipped(), 1024, None));
    let post = "POST";
    let (s, v) = call(
        app.clone(),
        post,
        "/v0/destinations/bluecore",
        "not json",
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"].as_str().unwrap().contains("not valid JSON"),
        "{v}"
    );
    let (s, v) = call(
        app.clone(),
        post,
        "/v0/destinations/bluecore",
        r#"{"message": {}}"#,
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("must be a JSON array"),
        "{v}"
    );
    let (s, v) = call(app.clone(), post, "/v0/destinations/bluecore", "[]", &[]).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(v["error"].as_str().unwrap().contains("empty"), "{v}");
    let (s, v) = call(
        app.clone(),
        post,
        "/v0/destinations/bluecore",
        "[]",
        &[("x-content-format", "json+compactedv1")],
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let big = format!("[{}]", "1,".repeat(600) + "1");
    let (s, v) = call(app.clone(), post, "/v0/destinations/bluecore", &big, &[]).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(v["error"].as_str().unwrap().contains("1024"), "{v}");
    let (s, v) = call(app.clone(), post, "/v0/destinations/nosuch", "[1]", &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        v["error"].as_str().unwrap().contains("bluecore"),
        "names the destinations it has: {v}"
    );
    for bad in [
        "/v0/destinations/..%2F..%2Fetc",
        "/v0/destinations/%2E%2E",
        "/v0/destinations/a%00b",
        "/v0/destinations/..%5Cwin",
    ] {
        let (s, _) = call(app.clone(), post, bad, "[1]", &[]).await;
        assert!(
            s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND,
            "{bad}: {s}"
        );
    }
    let (s, _) = call(
        app.clone(),
        post,
        "/v0/destinations/../../etc/passwd",
        "[1]",
        &[],
    )
    .await;
    assert!(s == StatusCode::BAD_REQUEST || s == StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn one_bad_item_never_fails_the_others() {
    let app = app(state(shipped(), 1 << 20, None));
    let body = json!([
        item(identify(), 1),
        item(json!({"type": "record", "fields": {}}), 2),
        7,
        item(identify(), 4)
    ]);
    let (s, v) = call(
        app,
        "POST",
        "/v0/destinations/BlueCore",
        &body.to_string(),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let codes: Vec<u64> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["statusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [200, 400, 400, 200]);
    assert!(
        v[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("message type record is not supported")
    );
    assert_eq!(v[1]["statTags"]["errorType"], "instrumentation");
}

#[tokio::test]
async fn compacted_items_missing_their_destination_or_connection_fail_alone() {
    let app = app(state(shipped(), 1 << 20, None));
    let dest = json!({"ID": "d1", "Config": {"bluecoreNamespace": "ns"}});
    let md = |job: u64, d: &str| json!({"jobId": job, "destinationId": d, "sourceId": "s1"});
    let body = json!({
        "input": [
            {"message": identify(), "metadata": md(1, "d1")},
            {"message": identify(), "metadata": md(2, "d9")},
            {"message": identify(), "metadata": {"jobId": 3}},
        ],
        "destinations": {"d1": dest},
        "connections": {"s1:d1": {"sourceId": "s1", "destinationId": "d1", "enabled": true, "config": {}}}
    });
    let (s, v) = call(
        app.clone(),
        "POST",
        "/v0/destinations/bluecore",
        &body.to_string(),
        &[("x-content-format", "json+compactedv1")],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v[0]["statusCode"], 200);
    assert_eq!(v[1]["statusCode"], 400);
    assert!(v[1]["error"].as_str().unwrap().contains("d9"), "{v}");
    assert_eq!(v[1]["metadata"]["jobId"], 2);
    assert_eq!(v[2]["statusCode"], 400);

    let mut no_conn = body.clone();
    no_conn["connections"] = json!({});
    let (_, v) = call(
        app,
        "POST",
        "/v0/destinations/bluecore",
        &no_conn.to_string(),
        &[("x-content-format", "json+compactedv1")],
    )
    .await;
    assert!(
        v[0]["error"]
            .as_str()
            .unwrap()
            .contains("connection `s1:d1`"),
        "{v}"
    );
}

#[tokio::test]
async fn health_features_metrics() {
    let st = state(shipped(), 1 << 20, None);
    let app = app(st);
    let (s, h) = call(app.clone(), "GET", "/health", "", &[]).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(h["service"], "UP");
    assert!(
        h["destinations"]["bluecore"]["spec_hash"]
            .as_str()
            .unwrap()
            .len()
            == 16
    );
    assert!(h["last_reload_error"].is_null());
    let (_, f) = call(app.clone(), "GET", "/features", "", &[]).await;
    assert_eq!(f["supportDestTransformCompactedPayloadV1"], true);
    // Every destination served answers the router transform.
    assert_eq!(f["routerTransform"]["BLUECORE"], true);
    assert_eq!(f["routerTransform"]["WEBHOOK"], true);
    let secret = "very-secret-namespace";
    let mut it = item(identify(), 1);
    it["destination"]["Config"]["bluecoreNamespace"] = json!(secret);
    call(
        app.clone(),
        "POST",
        "/v0/destinations/bluecore",
        &json!([it]).to_string(),
        &[],
    )
    .await;
    let (_, m) = call(app, "GET", "/metrics", "", &[]).await;
    let m = m.as_str().unwrap().to_owned();
    assert!(
        m.contains(r#"eventmap_requests_total{destination="bluecore",code="200"} 1"#),
        "{m}"
    );
    assert!(
        m.contains(r#"eventmap_events_total{destination="bluecore",status_code="200"} 1"#),
        "{m}"
    );
    assert!(
        m.contains("eventmap_request_duration_seconds_bucket"),
        "{m}"
    );
    assert!(m.contains("eventmap_reload_failures_total 0"), "{m}");
    assert!(!m.contains(secret));
}

/// A server on an ephemeral loopback port; dropped senders stop it.
struct Running {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn start(st: Arc<AppState>) -> Running {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve_with(listener, st, Duration::from_millis(50), async {
            let _ = rx.await;
        }));
        Running {
            base,
            stop: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        self.task.await.unwrap().unwrap();
    }
}

async fn post(client: &reqwest::Client, url: &str, body: String) -> Value {
    let r = client.post(url).body(body).send().await.unwrap();
    assert_eq!(r.status(), 200);
    serde_json::from_slice(&r.bytes().await.unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conformance_over_a_real_socket() {
    let dir = repo().join("../shared/conformance/vectors");
    let Ok(text) = std::fs::read_to_string(dir.join("vectors-seed1.json")) else {
        assert!(
            std::env::var("CI").ok().as_deref() != Some("true"),
            "CI=true but the recordings are missing"
        );
        eprintln!("server conformance: skipped, no recordings beside the repo");
        return;
    };
    let vectors: Vec<Value> = serde_json::from_str(&text).unwrap();
    let srv = Running::start(state(shipped(), 1 << 28, None)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v0/destinations/bluecore", srv.base);
    let mut failures = 0;
    for chunk in vectors.chunks(200) {
        let items: Vec<Value> = chunk.iter().map(|v| v["input"].clone()).collect();
        let got = post(&client, &url, serde_json::to_string(&items).unwrap()).await;
        let got = got.as_array().unwrap();
        let mut k = 0;
        for v in chunk {
            let exp = v["output"].as_array().unwrap();
            let mine = &got[k..k + exp.len()];
            k += exp.len();
            let crashed = exp.iter().any(|e| e["statusCode"].as_u64().unwrap() >= 500);
            if crashed {
                failures += usize::from(
                    mine.iter()
                        .any(|o| o["statusCode"] != 200 && o["statusCode"] != 400),
                );
            } else if common::first_difference(
                &Value::Array(exp.clone()),
                &Value::Array(mine.to_vec()),
                "",
            )
            .is_some()
            {
                failures += 1;
            }
        }
        assert_eq!(k, got.len());
    }
    srv.stop().await;
    assert_eq!(failures, 0, "vectors differ over HTTP");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_clients_at_once_all_answered_right() {
    let engine = Engine::load(&shipped(), "bluecore").unwrap().unwrap();
    let srv = Running::start(state(shipped(), 1 << 24, None)).await;
    let url = format!("{}/v0/destinations/bluecore", srv.base);
    let mut tasks = Vec::new();
    for c in 0..16u64 {
        let url = url.clone();
        let batch: Vec<Value> = (0..50)
            .map(|i| {
                let mut m = identify();
                m["userId"] = json!(format!("u-{c}-{i}"));
                if i % 7 == 0 {
                    m["type"] = json!("record");
                }
                item(m, c * 1000 + i)
            })
            .collect();
        let expected: Vec<Value> = engine
            .transform_batch(batch.clone())
            .iter()
            .map(common::canonical)
            .collect();
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for _ in 0..10 {
                let got = post(&client, &url, serde_json::to_string(&batch).unwrap()).await;
                assert_eq!(got, Value::Array(expected.clone()));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    srv.stop().await;
}

async fn get_json(client: &reqwest::Client, url: &str) -> Value {
    serde_json::from_str(&client.get(url).send().await.unwrap().text().await.unwrap()).unwrap()
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spec_edits_reload_and_broken_specs_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("mappings");
    common::copy_dir(&repo().join("mappings"), &dir);
    let srv = Running::start(state(Mappings::Dir(dir.clone()), 1 << 24, None)).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v0/destinations/bluecore", srv.base);
    let body = serde_json::to_string(&json!([item(identify(), 1)])).unwrap();
    let endpoint = |v: &Value| {
        v[0]["output"]["endpoint"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(
        endpoint(&post(&client, &url, body.clone()).await),
        "https://api.bluecore.app/api/track/mobile/v1"
    );

    let dest = dir.join("bluecore/destination.yaml");
    common::edit(
        &dest,
        "https://api.bluecore.app/api/track/mobile/v1",
        "https://edited.example/v2",
    );
    eventually("the edit to take effect", async || {
        endpoint(&post(&client, &url, body.clone()).await) == "https://edited.example/v2"
    })
    .await;

    common::edit(&dest, "message_type:", "mesage_type:");
    let health = format!("{}/health", srv.base);
    eventually("the error to show on /health", async || {
        let h: Value = get_json(&client, &health).await;
        h["last_reload_error"]
            .as_str()
            .is_some_and(|e| e.contains("bluecore/destination.yaml:") && e.contains("mesage_type"))
    })
    .await;
    let h: Value = get_json(&client, &health).await;
    let err = h["last_reload_error"].as_str().unwrap();
    assert!(err.contains("error[E002]"), "{err}");
    // file:line:col
    assert!(
        err.split("bluecore/destination.yaml:")
            .nth(1)
            .unwrap()
            .split(':')
            .take(2)
            .all(|n| n.parse::<u32>().is_ok()),
        "{err}"
    );
    assert_eq!(
        endpoint(&post(&client, &url, body.clone()).await),
        "https://edited.example/v2",
        "the old set keeps serving"
    );
    let m = client
        .get(format!("{}/metrics", srv.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        m.contains("eventmap_reload_failures_total ")
            && !m.contains("eventmap_reload_failures_total 0"),
        "{m}"
    );
    srv.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_destinations_go_upstream_unchanged() {
    use axum::extract::Request as AxRequest;
    // A stub upstream that answers with what it received.
    let stub = axum::Router::new().fallback(|req: AxRequest| async move {
        let path = req.uri().to_string();
        let fmt = req
            .headers()
            .get("x-content-format")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = req.into_body().collect().await.unwrap().to_bytes();
        (
            [("apiVersion", "upstream's")],
            axum::Json(
                json!({"path": path, "format": fmt, "body": String::from_utf8_lossy(&body)}),
            ),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = format!("http://{}", listener.local_addr().unwrap());
    let stub_task = tokio::spawn(async move { axum::serve(listener, stub).await });

    let srv = Running::start(state(shipped(), 1 << 24, Some(up))).await;
    let client = reqwest::Client::new();
    let body = r#"[{"message":{"type":"track"},"odd":  1.50}]"#;
    let r = client
        .post(format!("{}/v0/destinations/SOME_OTHER_DEST?x=1", srv.base))
        .header("x-content-format", "json+compactedv1")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["apiVersion"],
        "upstream's",
        "the upstream's own header"
    );
    let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
    assert_eq!(v["path"], "/v0/destinations/SOME_OTHER_DEST?x=1");
    assert_eq!(v["format"], "json+compactedv1");
    assert_eq!(v["body"], body, "forwarded byte for byte");
    // Bluecore stays local.
    let local = post(
        &client,
        &format!("{}/v0/destinations/bluecore", srv.base),
        json!([item(identify(), 1)]).to_string(),
    )
    .await;
    assert_eq!(local[0]["statusCode"], 200);
    srv.stop().await;
    stub_task.abort();
}

#[test]
fn sigterm_during_a_large_request_finishes_it_and_exits_zero() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_eventmap"))
        .args(["serve", "--listen", "127.0.0.1:0", "--mappings"])
        .arg(repo().join("mappings"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_owned();

    let n = 60_000;
    let items: Vec<Value> = (0..n).map(|i| item(identify(), i)).collect();
    let body = serde_json::to_vec(&items).unwrap();
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    write!(stream, "POST /v0/destinations/bluecore HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    // Send most of the body, signal, then the rest: the request is surely in flight.
    let split = body.len() - 1000;
    stream.write_all(&body[..split]).unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_millis(100));
    stream.write_all(&body[split..]).unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let text = String::from_utf8_lossy(&response);
    assert!(
        text.starts_with("HTTP/1.1 200"),
        "{}",
        &text[..text.len().min(300)]
    );
    let json_start = text.find("\r\n\r\n").unwrap() + 4;
    let payload = &response[json_start..];
    // Either a plain or a chunked body: count the response items by their jobIds.
    let items = String::from_utf8_lossy(payload)
        .matches("\"statusCode\":200")
        .count();
    assert_eq!(
        items, n as usize,
        "every item of the in-flight request answered"
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn router_transform_answers_every_event_once() {
    let app = app(state(shipped(), 1 << 24, None));
    let mut bad = item(json!({"type": "record"}), 2);
    bad["metadata"]["destinationId"] = json!("d1");
    let body = json!({"destType": "BLUECORE", "input": [item(identify(), 1), bad]}).to_string();
    let (status, v) = call(app.clone(), "POST", "/routerTransform", &body, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let out = v["output"].as_array().unwrap();
    assert_eq!(out.len(), 2, "{v}");
    let ok = out.iter().find(|e| e["statusCode"] == 200).unwrap();
    assert_eq!(ok["batched"], false);
    assert_eq!(ok["metadata"][0]["jobId"], 1);
    assert!(ok["batchedRequest"]["endpoint"].is_string());
    assert!(ok["destination"]["Config"].is_object());
    let failed = out.iter().find(|e| e["statusCode"] == 400).unwrap();
    assert_eq!(failed["metadata"][0]["jobId"], 2);
    assert_eq!(failed["statTags"]["feature"], "router");
    assert!(failed["error"].as_str().unwrap().contains("not supported"));
    let (status, v) = call(
        app.clone(),
        "POST",
        "/routerTransform",
        r#"{"destType": "NOPE", "input": [{}]}"#,
        &[],
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(v["error"].is_string());
    let (status, _) = call(app, "POST", "/routerTransform", r#"{"input": []}"#, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_split_across_cores_answers_in_order() {
    // Large enough to be split (when the machine has cores to spare) and to span windows;
    // bad items and fan-outs mixed in, so runs answer with different numbers of items.
    let engine = Engine::load(&shipped(), "bluecore").unwrap().unwrap();
    let batch: Vec<Value> = (0..2_500u64)
        .map(|i| {
            let mut m = identify();
            m["userId"] = json!(format!("u-{i}"));
            match i % 11 {
                0 => m["type"] = json!("record"),
                3 => {
                    m = json!({"type": "track", "event": "Order Completed", "userId": format!("u-{i}"),
                               "properties": {"products": [{"product_id": "p1"}, {"product_id": "p2"}]}});
                }
                _ => {}
            }
            item(m, i + 1)
        })
        .collect();
    let expected: Vec<Value> = engine
        .transform_batch(batch.clone())
        .iter()
        .map(common::canonical)
        .collect();
    let srv = Running::start(state(shipped(), 1 << 28, None)).await;
    let url = format!("{}/v0/destinations/bluecore", srv.base);
    let client = reqwest::Client::new();
    let got = post(&client, &url, serde_json::to_string(&batch).unwrap()).await;
    assert_eq!(got.as_array().map(Vec::len), Some(expected.len()));
    assert_eq!(got, Value::Array(expected));
    srv.stop().await;
}

/// rudder-server refuses a transformer's 200 without `apiVersion: 2` (its router panics), so
/// every answer carries it, as the reference's do.
#[tokio::test]
async fn every_answer_says_api_version_2() {
    let app = app(state(shipped(), 1 << 24, None));
    let processor = json!([item(identify(), 1)]).to_string();
    let router = json!({"destType": "BLUECORE", "input": [item(identify(), 1)]}).to_string();
    for (method, uri, body) in [
        ("POST", "/v0/destinations/bluecore", processor.as_str()),
        ("POST", "/routerTransform", router.as_str()),
        ("GET", "/features", ""),
        ("GET", "/health", ""),
        ("POST", "/v0/destinations/nope", "[]"),
    ] {
        let resp = app
            .clone()
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(Body::from(body.to_owned()))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(
            resp.headers()
                .get("apiVersion")
                .map(|v| v.to_str().unwrap()),
            Some("2"),
            "{method} {uri}"
        );
    }
}

/// rudder-server sends everything to its one transformer URL: behind it, eventmap answers its
/// own destinations and hands the rest to the upstream, `/features` included (rudder-server
/// will not start without the reference's flags there), method, path, query and body as sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_an_upstream_features_and_other_paths_are_the_upstream_s() {
    use axum::extract::Request as AxRequest;
    let stub = axum::Router::new().fallback(|req: AxRequest| async move {
        let method = req.method().to_string();
        let path = req.uri().to_string();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        axum::Json(json!({"upstream": true, "method": method, "path": path,
            "body": String::from_utf8_lossy(&body)}))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let up = format!("http://{}", listener.local_addr().unwrap());
    let stub_task = tokio::spawn(async move { axum::serve(listener, stub).await });

    let srv = Running::start(state(shipped(), 1 << 24, Some(up))).await;
    let client = reqwest::Client::new();
    let f = get_json(&client, &format!("{}/features", srv.base)).await;
    assert_eq!(f["upstream"], true, "{f}");
    assert_eq!(f["method"], "GET");
    for path in [
        "/customTransform",
        "/v0/validate",
        "/v2/sources/webhook?x=1",
        "/v1/destinations/bluecore/proxy",
        "/batch",
    ] {
        let r = client
            .post(format!("{}{path}", srv.base))
            .body(r#"[{"a": 1}]"#)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let v: Value = serde_json::from_str(&r.text().await.unwrap()).unwrap();
        assert_eq!(v["path"], path);
        assert_eq!(v["method"], "POST");
        assert_eq!(v["body"], r#"[{"a": 1}]"#);
    }
    // Its own destinations and /health stay here.
    let local = post(
        &client,
        &format!("{}/v0/destinations/bluecore", srv.base),
        json!([item(identify(), 1)]).to_string(),
    )
    .await;
    assert_eq!(local[0]["statusCode"], 200);
    let h = get_json(&client, &format!("{}/health", srv.base)).await;
    assert_eq!(h["service"], "UP");
    srv.stop().await;
    stub_task.abort();

    // Without an upstream: its own /features, and a 404 for other paths.
    let app = app(state(shipped(), 1 << 20, None));
    let (_, f) = call(app.clone(), "GET", "/features", "", &[]).await;
    assert_eq!(f["routerTransform"]["BLUECORE"], true);
    let (s, v) = call(app, "POST", "/customTransform", "[]", &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(v["error"].as_str().unwrap().contains("/customTransform"));
}

#[tokio::test]
async fn a_body_with_an_item_that_is_not_json_is_refused_whole() {
    // The items of a body are found by its brackets and commas and read when mapped: one item
    // that is not JSON still makes the whole body a 400, with serde_json's words for it, in a
    // small body and in one split across threads.
    let app = app(state(shipped(), 1 << 26, None));
    for n in [1usize, 3, 150] {
        let mut items: Vec<String> = (0..n)
            .map(|i| item(identify(), i as u64 + 1).to_string())
            .collect();
        items[n / 2] = r#"{"message": {"type": tru}}"#.to_owned();
        let body = format!("[{}]", items.join(","));
        let expected = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(&body)
            .unwrap_err()
            .to_string();
        let (s, v) = call(app.clone(), "POST", "/v0/destinations/bluecore", &body, &[]).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{n}: {v}");
        assert_eq!(
            v["error"].as_str().unwrap(),
            format!("request body is not a valid JSON array: {expected}"),
            "{n}"
        );
    }
    // A lone surrogate is JSON to the body's reader: such an item is mapped with the others.
    let mut items: Vec<String> = (0..150)
        .map(|i| item(identify(), i as u64 + 1).to_string())
        .collect();
    items[70] = items[70].replace("gold", r"gold\ud800");
    let body = format!("[{}]", items.join(","));
    let (s, v) = call(app.clone(), "POST", "/v0/destinations/bluecore", &body, &[]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().map(Vec::len), Some(150), "{v}");
}
