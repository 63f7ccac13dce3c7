//! Conformance: every recorded reference case in `../shared/conformance` run through the
//! library and compared as JSON (list order matters). Where the reference crashed (a 5xx),
//! the answer must be a 200 or a 400 with an error text, never a 5xx.
//!
//! The recordings are not part of this repository. Without them the test says so and passes,
//! except under `CI=true`, where a missing folder is a failure.

mod common;

use std::path::{Path, PathBuf};

use eventmap::{Engine, Mappings};
use serde_json::Value;

fn conformance_dir() -> PathBuf {
    std::env::var_os("EVENTMAP_CONFORMANCE")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance"))
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json")
            && !p.to_string_lossy().ends_with(".stats.json")
        {
            out.push(p);
        }
    }
}

/// (name, request items, expected response items)
fn cases(dir: &Path) -> Vec<(String, Vec<Value>, Vec<Value>)> {
    let mut files = Vec::new();
    json_files(dir, &mut files);
    let mut out = Vec::new();
    for f in files {
        let base = f.file_name().unwrap().to_string_lossy().to_string();
        match common::read_json(&f) {
            Value::Object(case) if case.contains_key("expected") => {
                let inputs = case["input"].as_array().cloned().unwrap_or_default();
                let expected = case.get("server_body").unwrap_or(&case["expected"]);
                let id = case.get("id").and_then(Value::as_str).unwrap_or("?");
                out.push((
                    format!("{base}:{id}"),
                    inputs,
                    expected.as_array().cloned().unwrap_or_default(),
                ));
            }
            Value::Array(vectors) => {
                for (i, v) in vectors.into_iter().enumerate() {
                    let expected = v["output"].as_array().cloned().unwrap_or_default();
                    out.push((format!("{base}#{i}"), vec![v["input"].clone()], expected));
                }
            }
            _ => panic!("{}: not a vector file", f.display()),
        }
    }
    out
}

#[test]
fn every_recorded_reference_case() {
    let dir = conformance_dir();
    if !dir.is_dir() {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CI=true but the conformance recordings are missing at {}",
            dir.display()
        );
        eprintln!(
            "conformance: skipped, no recordings at {} (they live beside the repo in CI)",
            dir.display()
        );
        return;
    }
    let mappings = Mappings::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"));
    let engine = Engine::load(&mappings, "bluecore")
        .expect("specs compile")
        .expect("bluecore specs exist");
    let cases = cases(&dir);
    assert!(
        cases.len() > 2000,
        "expected the full recordings, found {} cases",
        cases.len()
    );
    let mut failures = Vec::new();
    for (name, inputs, expected) in &cases {
        let got: Vec<Value> = engine
            .transform_batch(inputs.clone())
            .iter()
            .map(common::canonical)
            .collect();
        let crashed = expected
            .iter()
            .any(|e| e["statusCode"].as_u64().unwrap_or(200) >= 500);
        if crashed {
            let bad = got.is_empty()
                || got.iter().any(|o| {
                    let code = o["statusCode"].as_u64().unwrap_or(0);
                    !(code == 200
                        || (code == 400 && o["error"].as_str().is_some_and(|e| !e.is_empty())))
                });
            if bad {
                failures.push(format!("{name}: the reference crashed; we must answer 200 or 400 with an error, got {got:?}"));
            }
            continue;
        }
        let expected = Value::Array(expected.clone());
        let got = Value::Array(got);
        if let Some(d) = common::first_difference(&expected, &got, "") {
            failures.push(format!("{name}: {d}"));
        }
    }
    let total = cases.len();
    eprintln!(
        "conformance: {} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} of {total} conformance cases differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
