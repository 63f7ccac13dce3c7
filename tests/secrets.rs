//! Secrets (config keys marked `secret: true`) never appear in text eventmap prints itself,
//! whole or inside longer text, on every surface: `diff`, `transform --explain`, `test`, the
//! server's logs and `/health`, and the error texts the engine composes. The answers sent on
//! towards destinations keep them: they are the product.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{copy_dir, edit, request_raw};
use eventmap::json;
use eventmap::value::Value;
use eventmap::{Engine, Mappings};

/// The secret every test hides: an API key that Loops sends as `Bearer <key>`.
const SECRET: &str = "loops-secret-1";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eventmap"))
}

/// A copy of the shipped Loops specs (its `apiKey` is marked secret) under `dir/NAME`.
fn loops_copy(dir: &Path, name: &str) -> PathBuf {
    let m = dir.join(name);
    copy_dir(&repo().join("mappings/loops"), &m.join("loops"));
    m
}

fn items() -> String {
    let dest = json!({"Config": {"apiKey": SECRET}});
    json!([
        {"message": {"type": "identify", "userId": "u1", "traits": {"email": "a@b.co"}}, "destination": dest, "metadata": {"jobId": 1}},
        {"message": {"type": "track", "userId": "u1", "event": "Signed Up"}, "destination": dest, "metadata": {"jobId": 2}},
        {"message": {"type": "identify", "userId": "u1"}, "destination": dest, "metadata": {"jobId": 3}}
    ])
    .to_string()
}

fn run(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null()).output().expect("binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn diff_masks_a_secret_inside_a_header() {
    let dir = tempfile::tempdir().unwrap();
    let before = loops_copy(dir.path(), "before");
    let after = loops_copy(dir.path(), "after");
    edit(
        &after.join("loops/destination.yaml"),
        "Bearer {{config.apiKey}}",
        "Token {{config.apiKey}}",
    );
    let input = dir.path().join("items.json");
    std::fs::write(&input, items()).unwrap();
    let mut cmd = bin();
    cmd.args(["diff", "--destination", "loops", "--mappings"])
        .arg(&before)
        .arg("--against")
        .arg(&after)
        .arg(&input);
    let o = run(cmd);
    let out = text(&o.stdout);
    assert!(!o.status.success(), "answers differ: {out}");
    assert!(
        out.contains(r#"/0/output/headers/Authorization: "Bearer <secret:apiKey>" -> "Token <secret:apiKey>""#),
        "{out}"
    );
    assert!(
        !out.contains(SECRET) && !text(&o.stderr).contains(SECRET),
        "{out}"
    );
}

#[test]
fn explain_masks_a_secret_inside_a_header_but_the_answer_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let m = loops_copy(dir.path(), "m");
    let input = dir.path().join("items.json");
    std::fs::write(&input, items()).unwrap();
    let mut cmd = bin();
    cmd.args([
        "transform",
        "--destination",
        "loops",
        "--explain",
        "--mappings",
    ])
    .arg(&m)
    .arg(&input);
    let o = run(cmd);
    assert!(o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("    header Authorization: Bearer <secret:apiKey>"),
        "{err}"
    );
    assert!(!err.contains(SECRET), "{err}");
    // The answer is the product: the destination needs the key.
    let answer: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        answer[0]["output"]["headers"]["Authorization"],
        format!("Bearer {SECRET}")
    );
}

#[test]
fn test_output_masks_secrets_in_differences() {
    let dir = tempfile::tempdir().unwrap();
    let m = loops_copy(dir.path(), "m");
    let case = m.join("loops/tests/secret");
    std::fs::create_dir_all(&case).unwrap();
    std::fs::write(case.join("input.json"), items()).unwrap();
    let mut bless = bin();
    bless.args(["test", "--bless", "--mappings"]).arg(&m);
    assert!(run(bless).status.success());
    edit(
        &m.join("loops/destination.yaml"),
        "Bearer {{config.apiKey}}",
        "Token {{config.apiKey}}",
    );
    let mut cmd = bin();
    cmd.args(["test", "--mappings"]).arg(&m);
    let o = run(cmd);
    let out = text(&o.stdout);
    assert!(!o.status.success());
    assert!(
        out.contains(r#"/0/output/headers/Authorization: expected "Bearer <secret:apiKey>", got "Token <secret:apiKey>""#),
        "{out}"
    );
    assert!(!out.contains(SECRET), "{out}");
}

/// A failure the engine words itself (not a spec's text) that would quote a config value:
/// the secret is masked in the 400's error text.
#[test]
fn error_texts_the_engine_composes_mask_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let m = loops_copy(dir.path(), "m");
    // copy_keys refuses an unsafe key, naming it: here a key made of the secret.
    edit(
        &m.join("loops/track.yaml"),
        "eventName: message.event",
        "eventName: message.event\n          copied: \"copy_keys([from_entries([[config.apiKey + '.__proto__', 1]])])\"",
    );
    let engine = Engine::load(&Mappings::Dir(m), "loops").unwrap().unwrap();
    let items: Value = serde_json::from_str(&items()).unwrap();
    let out = engine.transform(items[1].clone());
    let error = out[0]["error"].as_str().unwrap_or_default();
    assert_eq!(out[0]["statusCode"], 400, "{out:?}");
    assert!(
        error.contains("cannot copy key `<secret:apiKey>.__proto__`"),
        "{error}"
    );
    assert!(!error.contains(SECRET), "{error}");
    // A spec's own error text is the reference's answer and is left as it is.
    let out = engine.transform(items[2].clone());
    assert_eq!(
        out[0]["error"]
            .as_str()
            .unwrap_or_default()
            .split(':')
            .next(),
        Some("email is required for identify call.")
    );
}

/// The server, with debug logs, an upstream URL carrying credentials, a request whose items
/// carry the secret (mapped, failed and forwarded ones) and a reload that fails: neither the
/// logs nor `/health` show the secret or the upstream's password.
#[test]
fn server_logs_and_health_never_show_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let m = loops_copy(dir.path(), "m");
    let log = dir.path().join("server.log");
    let mut child = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--reload-debounce-ms",
            "50",
        ])
        .args(["--upstream", "http://ann:upstream-pa55@127.0.0.1:9"])
        .args(["--upstream-connect-timeout", "1", "--mappings"])
        .arg(&m)
        .env("EVENTMAP_LOG", "debug")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line.trim().rsplit("http://").next().unwrap().to_owned();
    let body = items();
    let (status, answer) =
        request_raw(&addr, "POST", "/v0/destinations/loops", "", body.as_bytes());
    assert!(status.contains("200"), "{status}");
    assert!(text(&answer).contains(SECRET), "the answer is the product");
    // Forwarded (the upstream is down: 502 or 504), and refused as a whole.
    let (status, _) = request_raw(
        &addr,
        "POST",
        "/v0/destinations/elsewhere",
        "",
        body.as_bytes(),
    );
    assert!(status.contains("502") || status.contains("504"), "{status}");
    let (status, _) = request_raw(&addr, "POST", "/v0/destinations/loops", "", b"[{");
    assert!(status.contains("400"), "{status}");
    // A reload that fails, its error kept for /health.
    std::fs::write(m.join("loops/broken.yaml"), "steps: [\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let health = loop {
        std::thread::sleep(std::time::Duration::from_millis(100));
        let (status, health) = request_raw(&addr, "GET", "/health", "", b"");
        assert!(status.contains("200"), "{status}");
        let health = text(&health);
        if health.contains("last_reload_error\":\"") || std::time::Instant::now() > deadline {
            break health;
        }
    };
    assert!(health.contains("http://<secret>@127.0.0.1:9"), "{health}");
    assert!(
        health.contains("last_reload_error\":\"loops/broken.yaml"),
        "{health}"
    );
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("forward failed"), "{logs}");
    for shown in [&health, &logs] {
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(!shown.contains("upstream-pa55"), "{shown}");
    }
}
