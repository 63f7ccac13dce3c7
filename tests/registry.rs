//! The construct registry documents and tests itself: every example of every construct is
//! evaluated (through a real spec, over the sample event the reference shows), the generated
//! reference and schema must be current, and every shipped spec file must validate against
//! the schema.

use std::path::{Path, PathBuf};

use eventmap::docs::{
    REFERENCE_PATH, SCHEMA_PATH, reference_markdown, sample_event, schema, schema_text,
};
use eventmap::registry::{CONSTRUCTS, SEMANTICS};
use eventmap::{Engine, Mappings};
use serde_json::{Value, json};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A one-flow destination whose payload's `r` is the expression's value.
fn evaluate(expr: &str) -> Result<Option<Value>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let d = dir.path().join("ex");
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    std::fs::write(
        d.join("destination.yaml"),
        "destination: ex\nmessage_type: {supported: [track]}\nrequest: {endpoint: x}\n\
         aliases: {email: [traits.email, context.traits.email]}\n",
    )
    .map_err(|e| e.to_string())?;
    let quoted = serde_json::to_string(expr).map_err(|e| e.to_string())?;
    std::fs::write(
        d.join("track.yaml"),
        format!("flow: track\nsteps:\n  - name: s\n    do:\n      - set: {{r: {quoted}}}\n      - emit: {{}}\n"),
    )
    .map_err(|e| e.to_string())?;
    let mut engine = Engine::load(&Mappings::Dir(dir.path().to_owned()), "ex")
        .map_err(|d| d.to_string())?
        .ok_or("no destination")?;
    let sample = sample_event();
    engine.env.random = Some(vec![0; 16]);
    engine.env.clock = eventmap::eval::Clock::fixed(sample["now"].as_str().unwrap_or_default())
        .ok_or("bad clock")?;
    let out = engine.transform(json!({
        "message": sample["message"],
        "destination": {"Config": sample["config"]},
        "metadata": {"jobId": 1}
    }));
    let first = out.first().ok_or("no response")?;
    if first["statusCode"] != 200 {
        return Err(first["error"].to_string());
    }
    Ok(first["output"]["body"]["JSON"]
        .get("r")
        .cloned()
        .map(Into::into))
}

#[test]
fn every_example_gives_what_the_registry_says() {
    let mut failures = Vec::new();
    let mut n = 0;
    for c in CONSTRUCTS {
        assert!(!c.examples.is_empty(), "`{}` has no example", c.name);
        for (expr, expected) in c.examples {
            n += 1;
            let want: Option<Value> = if *expected == "undefined" {
                None
            } else {
                Some(serde_json::from_str(expected).unwrap_or_else(|e| {
                    panic!("{}: example result {expected} is not JSON: {e}", c.name)
                }))
            };
            match evaluate(expr) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "{}: `{expr}` gave {}, the registry says {expected}",
                    c.name,
                    got.map_or("undefined".into(), |v| v.to_string())
                )),
                Err(e) => failures.push(format!("{}: `{expr}` failed: {e}", c.name)),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {n} examples:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn generated_reference_and_schema_are_current() {
    let bless = std::env::var_os("BLESS").is_some();
    for (rel, text) in [
        (REFERENCE_PATH, reference_markdown()),
        (SCHEMA_PATH, schema_text()),
    ] {
        let path = repo().join(rel);
        let on_disk = std::fs::read_to_string(&path).unwrap_or_default();
        if on_disk == text {
            continue;
        }
        if bless {
            assert!(
                std::env::var_os("CI").is_none(),
                "BLESS is refused under CI"
            );
            std::fs::write(&path, text).unwrap();
        } else {
            panic!(
                "{rel} is out of date with src/registry.rs: run `cargo run -- docs` (or BLESS=1 cargo test --test registry)"
            );
        }
    }
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            yaml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "yaml" || x == "yml") {
            out.push(p);
        }
    }
}

#[test]
fn every_shipped_spec_file_validates_against_the_schema() {
    let validator = jsonschema::draft7::new(&schema()).expect("the schema compiles");
    let mut files = Vec::new();
    yaml_files(&repo().join("mappings"), &mut files);
    yaml_files(&repo().join("tests/fixtures/mappings"), &mut files);
    assert!(files.len() > 10, "found only {} spec files", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let options = serde_saphyr::options! { strict_booleans: true };
        let doc: Value = serde_saphyr::from_str_with_options(&text, options)
            .unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        for e in validator.iter_errors(&doc) {
            failures.push(format!("{}: {} at {}", f.display(), e, e.instance_path()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_schema_refuses_what_the_compiler_refuses() {
    let validator = jsonschema::draft7::new(&schema()).unwrap();
    for bad in [
        json!({"destination": "x", "workflow": 3}),
        json!({"flow": "track", "stepz": []}),
        json!({"flow": "track", "steps": [{"name": "s", "do": [{"sett": {}}]}]}),
        json!({"flow": "track", "steps": [{"name": "s", "do": [{"set": {"a": {"lowercse": "x"}}}]}]}),
    ] {
        assert!(!validator.is_valid(&bad), "accepted {bad}");
    }
}

/// The Rust source knows no destination: no shipped destination's name appears in `src/`
/// (case-insensitively, inside words too), the plain words `http`, `webhook` and `variance`
/// aside.
#[test]
fn the_source_names_no_destination() {
    fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                rust_files(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    rust_files(&repo().join("src"), &mut files);
    let sources: Vec<(PathBuf, String)> = files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap().to_lowercase();
            (p, text)
        })
        .collect();
    let mut found = Vec::new();
    for e in std::fs::read_dir(repo().join("mappings"))
        .unwrap()
        .flatten()
    {
        let name = e.file_name().to_string_lossy().to_lowercase();
        if !e.path().is_dir() || ["http", "webhook", "variance"].contains(&name.as_str()) {
            continue;
        }
        for (p, text) in &sources {
            if text.contains(&name) {
                found.push(format!("{name} in {}", p.display()));
            }
        }
    }
    assert!(found.is_empty(), "destination names in src/: {found:?}");
}

#[test]
fn every_semantics_example_gives_what_the_registry_says() {
    let mut failures = Vec::new();
    for s in SEMANTICS {
        assert!(!s.examples.is_empty(), "`{}` has no example", s.eventmap);
        for (expr, expected) in s.examples {
            let want: Option<Value> = if *expected == "undefined" {
                None
            } else {
                Some(serde_json::from_str(expected).unwrap())
            };
            match evaluate(expr) {
                Ok(got) if got == want => {}
                Ok(got) => failures.push(format!(
                    "`{expr}` gave {got:?}, the registry says {expected}"
                )),
                Err(e) => failures.push(format!("`{expr}` failed: {e}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Compiles a destination `ex` made of these files; the diagnostics when it does not load.
fn load(files: &[(&str, &str)]) -> Result<(), String> {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("ex");
    std::fs::create_dir_all(&d).unwrap();
    for (name, text) in files {
        std::fs::write(d.join(name), text).unwrap();
    }
    Engine::load(&Mappings::Dir(dir.path().to_owned()), "ex")
        .map(|_| ())
        .map_err(|d| d.to_string())
}

/// A destination file with `TYPE_TEXT` as its unsupported text, `CONFIG_TEXT` as a config
/// error, `REQUEST_TEXT` as a header and `ROUTER` as its router section.
fn destination(type_text: &str, config_text: &str, request_text: &str, router: &str) -> String {
    format!(
        "destination: ex\nmessage_type:\n  supported: [track]\n  unsupported: \"{type_text}\"\n\
         config:\n  apiKey: {{required: \"{config_text}\"}}\n\
         request:\n  endpoint: https://x.example\n  headers: {{X: \"{request_text}\"}}\n{router}"
    )
}

fn flow(error_text: &str) -> String {
    format!(
        "flow: track\nsteps:\n  - name: s\n    do:\n      - let: {{v: message.event}}\n\
         \x20     - fan_out:\n          over: message.properties.items\n          as: element\n\
         \x20         do:\n            - require: message.event\n              error: \"{error_text}\"\n\
         \x20           - set: {{p: 1}}\n            - emit: {{}}\n"
    )
}

const ROUTER: &str = "router:\n  checks:\n    - name: c\n      do:\n        - let: {w: message.userId}\n        - require: w\n          error: \"{{w}}\"\n  batch:\n    key: output.endpoint\n    size: size_of(item)\n    request:\n      endpoint: \"{{output.endpoint}}\"\n      body: {JSON: {n: \"{{items}}\"}}\n";

/// The table of what each text can see (TEXT_SCOPES, in docs/spec-reference.md) holds: each
/// name it lists loads in that place, and a name from another place is refused.
#[test]
fn each_text_sees_what_the_reference_says() {
    let ok = |t: &str, c: &str, r: &str, e: &str, router: &str| {
        load(&[
            ("destination.yaml", &destination(t, c, r, router)),
            ("track.yaml", &flow(e)),
        ])
    };
    let plain = (
        "{{message.type}}",
        "{{config.apiKey}}",
        "{{payload.p}}",
        "{{v}}",
    );
    let base = |t, c, r, e| ok(t, c, r, e, "");
    // Every listed name, where the table lists it.
    base(
        "{{type}} {{type_of}} {{payload}}",
        plain.1,
        plain.2,
        plain.3,
    )
    .unwrap();
    base(plain.0, "{{config.apiKey}} {{payload}}", plain.2, plain.3).unwrap();
    base(plain.0, plain.1, "{{payload.p}} {{v}} {{element}}", plain.3).unwrap();
    base(plain.0, plain.1, plain.2, "{{payload.p}} {{v}} {{element}}").unwrap();
    ok(plain.0, plain.1, plain.2, plain.3, ROUTER).unwrap();
    // Names from elsewhere are refused.
    for (t, c, r, e, router) in [
        ("{{items}}", plain.1, plain.2, plain.3, ""),
        (plain.0, "{{type}}", plain.2, plain.3, ""),
        (plain.0, plain.1, "{{output}}", plain.3, ""),
        (plain.0, plain.1, plain.2, "{{type}}", ""),
        (
            plain.0,
            plain.1,
            plain.2,
            plain.3,
            &ROUTER.replace("{{w}}", "{{v}}"),
        ),
        (
            plain.0,
            plain.1,
            plain.2,
            plain.3,
            &ROUTER.replace("key: output.endpoint", "key: items"),
        ),
    ] {
        let got = ok(t, c, r, e, router);
        assert!(
            got.as_ref().is_err_and(|d| d.contains("E008")),
            "{t} / {c} / {r} / {e} / {router}: {got:?}"
        );
    }
}

/// A long list of texts on the right of `in` is made a set when the spec is compiled: it
/// answers as the same list built while the event is mapped (a spread is not folded), which
/// compares the value with each item strictly.
#[test]
fn in_over_a_long_text_list_answers_as_a_scan() {
    let texts = "'t0', 't1', 't2', '3', 't4', 't5', 't6', 't7', 'track', ''";
    let values = [
        "'t2'",
        "'t9'",
        "3",
        "'3'",
        "null",
        "undefined",
        "true",
        "['t1']",
        "{t1: 1}",
        "'T1'",
        "''",
        "message.type",
        "message.nothing",
    ];
    for v in values {
        let set = evaluate(&format!("{v} in [{texts}]"));
        let scan = evaluate(&format!("{v} in [...[{texts}]]"));
        assert_eq!(set, scan, "{v}");
    }
    let yes = Ok(Some(Value::Bool(true)));
    assert_eq!(evaluate(&format!("'t2' in [{texts}]")), yes);
    assert_eq!(evaluate(&format!("message.type in [{texts}]")), yes);
    assert_eq!(
        evaluate(&format!("3 in [{texts}]")),
        Ok(Some(Value::Bool(false)))
    );
}

/// An object literal writes each key where JavaScript would: a key written twice keeps its
/// first place and its last value, an undefined value leaves the key out (or takes it out).
#[test]
fn object_literals_write_keys_as_javascript_does() {
    let cases = [
        (
            "{a: message.type, b: message.nothing, c: 2}",
            json!({"a": "track", "c": 2}),
        ),
        ("{a: message.type, a: message.nothing}", json!({})),
        ("{a: message.type, b: 2, a: 3}", json!({"a": 3, "b": 2})),
        ("{...{a: message.type}, a: message.nothing}", json!({})),
        (
            "{b: message.type, ...{a: 1, b: 2}}",
            json!({"b": 2, "a": 1}),
        ),
    ];
    for (expr, want) in cases {
        assert_eq!(evaluate(expr), Ok(Some(want)), "{expr}");
    }
}

/// A `let` that reads only the event's own parts binds what it reads where it is; one that
/// reads a variable or the payload sees them (through a batch, which remembers config-only
/// values, and alone).
#[test]
fn lets_see_variables_the_payload_and_the_event() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("ex");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(
        d.join("destination.yaml"),
        "destination: ex\nmessage_type: {supported: [track]}\nrequest: {endpoint: x}\n",
    )
    .unwrap();
    std::fs::write(
        d.join("track.yaml"),
        "flow: track\nsteps:\n  - name: s\n    do:\n      - set: {x: 1}\n      \
         - let: {v: message.type, c: config.k}\n      - let:\n          \
         from_payload: payload.x\n          from_var: \"v ?? 'none'\"\n          \
         from_config_var: \"c ?? 'none'\"\n          \
         lambda_param: \"map([1, 2], n => n + 1)\"\n          \
         lambda_outer: \"map([1, 2], n => v)\"\n          \
         from_event: message.nothing ?? message.type\n          \
         whole: message.properties\n      \
         - set: {a: from_payload, b: from_var, c: from_config_var, d: lambda_param, \
         e: lambda_outer, f: from_event, g: whole.n}\n      - emit: {}\n",
    )
    .unwrap();
    let engine = Engine::load(&Mappings::Dir(dir.path().to_owned()), "ex")
        .unwrap()
        .unwrap();
    let item = json!({
        "message": {"type": "track", "properties": {"n": 5}},
        "destination": {"Config": {"k": "K"}},
        "metadata": {"jobId": 1}
    });
    let want: eventmap::value::Value = json!({"x": 1, "a": 1, "b": "track", "c": "K",
        "d": [2, 3], "e": ["track", "track"], "f": "track", "g": 5})
    .into();
    let alone = engine.transform(item.clone());
    assert_eq!(alone[0]["output"]["body"]["JSON"], want, "{}", alone[0]);
    let mut batch = engine.batch();
    let text = item.to_string();
    for _ in 0..2 {
        let mut out = Vec::new();
        batch.push(&text, &mut out);
        assert_eq!(out[0].to_value()["output"]["body"]["JSON"], want);
    }
}
