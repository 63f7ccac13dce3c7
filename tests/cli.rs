//! The real binary, run as a user would: formats, exit codes, mappings discovery, and the
//! promise that editing YAML changes answers without a rebuild.

mod common;

use std::path::PathBuf;

use common::{copy_dir, edit};
use std::process::{Command, Output, Stdio};

use eventmap::value::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_eventmap"))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn run(mut cmd: Command, stdin: &str) -> Output {
    use std::io::Write;
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn stdout_json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}; stderr: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("stdout is JSON")
}

fn item(message: &str, job: u64) -> String {
    format!(
        r#"{{"message":{message},"destination":{{"Config":{{"bluecoreNamespace":"ns","eventsMapping":[]}}}},"metadata":{{"jobId":{job},"workspaceId":"w"}}}}"#
    )
}

const IDENTIFY: &str =
    r#"{"type":"identify","userId":"u1","traits":{"email":"a@b.co","plan":"gold"}}"#;
const RECORD: &str = r#"{"type":"record","action":"insert","fields":{"email":"a@b.co"}}"#;

/// From an empty folder, so the embedded mappings answer.
fn in_empty_dir() -> (tempfile::TempDir, Command) {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = bin();
    cmd.current_dir(dir.path()).env_remove("EVENTMAP_MAPPINGS");
    (dir, cmd)
}

#[test]
fn json_array_in_json_array_out_with_embedded_specs() {
    let (_d, mut cmd) = in_empty_dir();
    cmd.args(["transform", "--destination", "BlueCore"]);
    let out = stdout_json(&run(
        cmd,
        &format!("[{},{}]", item(IDENTIFY, 1), item(RECORD, 2)),
    ));
    let out = out.as_array().unwrap();
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["statusCode"], 200);
    assert_eq!(out[0]["output"]["body"]["JSON"]["event"], "customer_patch");
    assert_eq!(out[1]["statusCode"], 400);
    assert_eq!(out[1]["statTags"]["errorType"], "instrumentation");
    assert!(
        out[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("message type record is not supported")
    );
    assert_eq!(out[1]["metadata"]["jobId"], 2);
}

#[test]
fn ndjson_in_ndjson_out_in_order() {
    let (_d, mut cmd) = in_empty_dir();
    cmd.args(["transform", "--destination", "bluecore", "-"]);
    let input = format!(
        "{}\n\n{}\n{}\n",
        item(IDENTIFY, 1),
        item(RECORD, 2),
        item(IDENTIFY, 3)
    );
    let o = run(cmd, &input);
    assert!(o.status.success());
    let lines: Vec<Value> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let jobs: Vec<u64> = lines
        .iter()
        .map(|l| l["metadata"]["jobId"].as_u64().unwrap())
        .collect();
    assert_eq!(jobs, [1, 2, 3]);
    let codes: Vec<u64> = lines
        .iter()
        .map(|l| l["statusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [200, 400, 200]);
}

#[test]
fn ndjson_on_several_threads_answers_as_one_thread_does_in_order() {
    // Enough items for many runs of lines, with bad lines among them: not JSON, not UTF-8,
    // blank. Every thread count gives the same bytes, in input order.
    let mut input = Vec::new();
    let mut jobs = Vec::new();
    for job in 1..=6000u64 {
        let line = match job % 7 {
            0 => item(RECORD, job).into_bytes(),
            3 => b"{not json".to_vec(),
            5 => {
                let mut l = item(IDENTIFY, job).into_bytes();
                l.extend_from_slice(b"\xff\xfe");
                l
            }
            _ => item(IDENTIFY, job).into_bytes(),
        };
        if job % 7 != 3 && job % 7 != 5 {
            jobs.push(job);
        }
        input.extend_from_slice(&line);
        input.extend_from_slice(if job % 11 == 0 { b"\n\n  \n" } else { b"\n" });
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("in.ndjson");
    std::fs::write(&path, &input).unwrap();
    let answer = |threads: &str| {
        let (_d, mut cmd) = in_empty_dir();
        cmd.args([
            "transform",
            "--destination",
            "bluecore",
            "--threads",
            threads,
        ])
        .arg(&path);
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        o.stdout
    };
    let one = answer("1");
    assert_eq!(answer("3"), one);
    assert_eq!(answer("2"), one);
    let lines: Vec<Value> = one
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 6000);
    let answered: Vec<u64> = lines
        .iter()
        .filter_map(|l| l["metadata"]["jobId"].as_u64())
        .collect();
    assert_eq!(answered, jobs);
    let not_utf8 = lines
        .iter()
        .filter(|l| l["error"].as_str().is_some_and(|e| e.contains("not UTF-8")))
        .count();
    assert_eq!(not_utf8, 6000 / 7 + usize::from(6000 % 7 >= 5));
}

#[test]
fn ndjson_lines_with_same_sized_destinations_each_use_their_own() {
    // Lines are read into one reused buffer: a destination must be told apart by its text,
    // not by where it lies.
    let (_d, mut cmd) = in_empty_dir();
    cmd.args(["transform", "--destination", "bluecore", "-"]);
    let line = |ns: &str, job: u64| {
        item(IDENTIFY, job).replace(
            r#""bluecoreNamespace":"ns""#,
            &format!(r#""bluecoreNamespace":"{ns}""#),
        )
    };
    let input = format!("{}\n{}\n{}\n", line("aa", 1), line("bb", 2), line("aa", 3));
    let o = run(cmd, &input);
    assert!(o.status.success());
    let spaces: Vec<String> = String::from_utf8(o.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["output"]["body"]["JSON"]["properties"]["token"].to_string()
        })
        .collect();
    assert_eq!(spaces, [r#""aa""#, r#""bb""#, r#""aa""#]);
}

#[test]
fn bundled_example_runs() {
    let mut cmd = bin();
    cmd.current_dir(repo()).args([
        "transform",
        "--destination",
        "bluecore",
        "examples/bluecore-events.json",
    ]);
    let out = stdout_json(&run(cmd, ""));
    let codes: Vec<u64> = out
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["statusCode"].as_u64().unwrap())
        .collect();
    // Checkout Started fans out to two payloads; search without a query and record are refused.
    assert_eq!(codes, [200, 200, 200, 200, 200, 200, 400, 400]);
}

#[test]
fn editing_a_copy_of_the_specs_changes_the_answer_without_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mappings");
    copy_dir(&repo().join("mappings"), &copy);
    edit(
        &copy.join("bluecore/destination.yaml"),
        "https://api.bluecore.app/api/track/mobile/v1",
        "https://example.test/changed",
    );
    edit(
        &copy.join("bluecore/identify.yaml"),
        "'customer_patch'",
        "'patched_by_copy'",
    );

    let mut cmd = bin();
    cmd.args(["transform", "--destination", "bluecore", "--mappings"])
        .arg(&copy);
    let out = stdout_json(&run(cmd, &format!("[{}]", item(IDENTIFY, 1))));
    assert_eq!(out[0]["output"]["endpoint"], "https://example.test/changed");
    assert_eq!(out[0]["output"]["body"]["JSON"]["event"], "patched_by_copy");

    // The same through the environment variable.
    let mut cmd = bin();
    cmd.env("EVENTMAP_MAPPINGS", &copy)
        .args(["transform", "--destination", "bluecore"]);
    let out = stdout_json(&run(cmd, &format!("[{}]", item(IDENTIFY, 1))));
    assert_eq!(out[0]["output"]["endpoint"], "https://example.test/changed");
}

#[test]
fn a_misspelt_key_fails_to_load_with_file_line_col() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mappings");
    copy_dir(&repo().join("mappings"), &copy);
    edit(
        &copy.join("bluecore/track.yaml"),
        "fan_out:\n              over:",
        "fan_out:\n              ovr:",
    );
    let mut cmd = bin();
    cmd.args(["transform", "--destination", "bluecore", "--mappings"])
        .arg(&copy);
    let o = run(cmd, &format!("[{}]", item(IDENTIFY, 1)));
    assert!(!o.status.success());
    assert!(o.stdout.is_empty(), "an invalid spec never runs");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("error[E002]: unknown key `ovr`"), "{err}");
    assert!(err.contains("--> bluecore/track.yaml:"), "{err}");
    assert!(err.contains("did you mean `over`?"), "{err}");
    assert!(err.contains("^"), "an excerpt with a caret: {err}");
}

#[test]
fn unusable_input_exits_non_zero_with_a_message() {
    let (_d, mut cmd) = in_empty_dir();
    cmd.args(["transform", "--destination", "bluecore"]);
    let o = run(cmd, "[{\"message\": ");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a valid JSON array"));

    let (_d, mut cmd) = in_empty_dir();
    cmd.args(["transform", "--destination", "nosuchdest"]);
    let o = run(cmd, "[]");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("unknown destination `nosuchdest`") && err.contains("bluecore"),
        "{err}"
    );

    let (_d, mut cmd) = in_empty_dir();
    cmd.args(["transform", "--destination", "../etc"]);
    assert!(!run(cmd, "[]").status.success());
}

#[test]
fn check_reports_loaded_destinations() {
    let mut cmd = bin();
    cmd.current_dir(repo()).args(["check"]);
    let o = run(cmd, "");
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("bluecore: ok"));
}

#[test]
fn explain_names_the_rule_behind_each_field_and_each_refusal() {
    let mut cmd = bin();
    cmd.current_dir(repo()).args([
        "transform",
        "--destination",
        "bluecore",
        "--explain",
        "examples/bluecore-events.json",
    ]);
    let o = run(cmd, "");
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("# item 1 (jobId 1): 1 response(s)"), "{err}");
    assert!(err.contains("  response 1: POST https://"), "{err}");
    assert!(
        err.lines()
            .any(|l| l.trim_start().starts_with("properties.distinct_id")
                && l.contains("bluecore/procedures.yaml:")),
        "{err}"
    );
    assert!(
        err.contains("refused (400): [Bluecore] property:: search_query is required"),
        "{err}"
    );
    assert!(
        err.contains("step: handleTrackEvent / preparePayload"),
        "{err}"
    );
    assert!(err.contains("rule: bluecore/procedures.yaml:"), "{err}");
    // stdout is the same answer as without --explain.
    let mut plain = bin();
    plain.current_dir(repo()).args([
        "transform",
        "--destination",
        "bluecore",
        "examples/bluecore-events.json",
    ]);
    assert_eq!(o.stdout, run(plain, "").stdout);
}

#[test]
fn diff_shows_what_a_spec_change_does() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("mappings");
    copy_dir(&repo().join("mappings"), &copy);
    let diff = || {
        let mut cmd = bin();
        cmd.current_dir(repo())
            .args([
                "diff",
                "--destination",
                "bluecore",
                "--mappings",
                "mappings",
                "--against",
            ])
            .arg(&copy)
            .arg("examples/bluecore-events.json");
        run(cmd, "")
    };
    let o = diff();
    assert!(o.status.success(), "no change, no difference");
    assert!(String::from_utf8_lossy(&o.stdout).contains("0 of 7 items answer differently"));

    edit(
        &copy.join("bluecore/tables.yaml"),
        "    - event\n",
        "    - event\n    - plan\n",
    );
    let o = diff();
    assert!(!o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("/0/output/body/JSON/properties/customer/plan: \"pro\" -> (absent)"),
        "{out}"
    );
    assert!(out.contains("1 of 7 items answer differently"), "{out}");
}

#[test]
fn new_scaffolds_a_destination_that_passes_check_and_test() {
    let dir = tempfile::tempdir().unwrap();
    let at = |args: &[&str]| {
        let mut cmd = bin();
        cmd.current_dir(dir.path())
            .env_remove("EVENTMAP_MAPPINGS")
            .args(args);
        run(cmd, "")
    };
    let o = at(&["new", "acme"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let root = dir.path().join("mappings/acme");
    let destination = std::fs::read_to_string(root.join("destination.yaml")).unwrap();
    assert!(
        destination.starts_with(
            "# yaml-language-server: $schema=../../schema/eventmap-spec.schema.json\n"
        )
    );
    assert!(root.join("track.yaml").is_file());
    assert!(root.join("tests/track/output.json").is_file());
    let o = at(&["check", "--mappings", "mappings"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let o = at(&[
        "test",
        "--mappings",
        "mappings",
        "--coverage",
        "--min-rules",
        "100",
        "--min-error-texts",
        "100",
    ]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains(
            "acme: 1 passed, 0 failed; coverage: rules 8/8 (100.0%), error texts 2/2 (100.0%)"
        ),
        "{out}"
    );
    // Never over an existing destination.
    let o = at(&["new", "ACME"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
}

#[test]
fn test_shows_every_difference_and_the_error_text_of_failed_items() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("mappings");
    copy_dir(&repo().join("mappings/loops"), &m.join("loops"));
    // Every identify now fails, and every request changes one header.
    edit(
        &m.join("loops/identify.yaml"),
        "require: \"@email ?? null\"",
        "require: \"null\"",
    );
    edit(
        &m.join("loops/destination.yaml"),
        "Content-Type: application/json",
        "Content-Type: text/json",
    );
    let mut cmd = bin();
    cmd.args(["test", "--coverage", "--mappings"]).arg(&m);
    let o = run(cmd, "");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success());
    assert!(out.starts_with("specs: "), "{out}");
    assert!(
        out.contains("expected a 200, got a 400 (email is required for identify call."),
        "{out}"
    );
    // Every difference of every case, not the first only.
    let header_diffs = out
        .lines()
        .filter(|l| {
            l.contains(
                r#"/output/headers/Content-Type: expected "application/json", got "text/json""#,
            )
        })
        .count();
    assert!(header_diffs >= 2, "{out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("loops: ") && l.contains(" failed; coverage: rules ")),
        "{out}"
    );
    assert!(out.contains("  not reached: loops/identify.yaml:"), "{out}");
    assert!(out.contains("golden: "), "{out}");
}

#[test]
fn commands_say_where_the_specs_came_from() {
    let (_d, mut cmd) = in_empty_dir();
    cmd.args(["check", "--destination", "loops"]);
    let o = run(cmd, "");
    assert!(o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).starts_with(
            "specs: the copy embedded in this binary at build time (no --mappings, $EVENTMAP_MAPPINGS or ./mappings)"
        ),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let mut cmd = bin();
    cmd.current_dir(repo())
        .env_remove("EVENTMAP_MAPPINGS")
        .args(["list"]);
    let o = run(cmd, "");
    assert!(String::from_utf8_lossy(&o.stderr).contains("/mappings (from ./mappings)"));
    // stdout stays the names, one a line.
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l == "loops")
    );
    let mut cmd = bin();
    cmd.current_dir(repo())
        .env("EVENTMAP_MAPPINGS", repo().join("mappings"))
        .args(["transform", "--destination", "loops"]);
    let o = run(cmd, "[]");
    assert!(String::from_utf8_lossy(&o.stderr).contains("(from $EVENTMAP_MAPPINGS)"));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "[]\n");
}

/// `--explain` lists the fields a response has, with the rule that wrote each; a `set` whose
/// value is undefined is listed only when it removed a field that was there (`unset`).
#[test]
fn explain_lists_no_field_an_undefined_value_did_not_write() {
    let mut cmd = bin();
    cmd.current_dir(repo()).args([
        "transform",
        "--destination",
        "lytics",
        "--explain",
        "--mappings",
        "mappings",
    ]);
    let item = r#"[{"message": {"type": "identify", "userId": "u1", "traits": {"firstName": "Ann", "plan": "pro"}}, "destination": {"Config": {"apiKey": "lytics-key-1", "stream": "web"}}, "metadata": {"jobId": 1}}]"#;
    let o = run(cmd, item);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let field = |name: &str, op: &str| {
        err.lines().any(|l| {
            let mut w = l.split_whitespace();
            w.next() == Some(name) && w.next() == Some(op)
        })
    };
    assert!(field("firstName", "unset"), "{err}");
    assert!(field("...customer", "set"), "{err}");
    // The key is a secret, inside the endpoint's query too.
    assert!(err.contains("access_token=<secret:apiKey>"), "{err}");
    assert!(!err.contains("lytics-key-1"), "{err}");
    // The set of `firstname`, `lastname` and `lastName` wrote nothing: no lines.
    for absent in ["firstname", "lastname", "lastName", "last_name"] {
        assert!(
            !err.lines()
                .any(|l| l.trim_start().starts_with(&format!("{absent} "))),
            "{absent}: {err}"
        );
    }
}
