//! Conformance: every recorded reference case in `../shared/conformance` (Bluecore) and in
//! `../shared/destinations/<name>/` (each other destination shipped under `mappings/`: the
//! reference's own tests and the recorded vectors, at the clock its `meta.json` froze) run
//! through the library and compared as JSON (list order matters). Where the reference crashed
//! (a 5xx), the answer must be a 200 or a 400 with an error text, never a 5xx.
//!
//! The recordings are not part of this repository. Without them the test says so and passes,
//! except under `CI=true`, where a missing folder is a failure.

mod common;

use std::io::Write as _;
use std::path::{Path, PathBuf};

use eventmap::value::Value;
use eventmap::{Engine, Mappings};

fn destinations_dir() -> PathBuf {
    std::env::var_os("EVENTMAP_DESTINATIONS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/destinations"))
}

/// Whether a missing recordings folder may be skipped (not under CI).
fn skip_missing(dir: &Path) -> bool {
    if dir.is_dir() {
        return false;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "CI=true but the conformance recordings are missing at {}",
        dir.display()
    );
    // Straight to stderr: the test harness captures `eprintln!`, and a skip must be seen.
    let _ = writeln!(
        std::io::stderr(),
        "conformance: SKIPPED, no recordings at {} (they live beside the repo in CI)",
        dir.display()
    );
    true
}

/// Reported as ignored, with the reason, when the recordings were missing as the tests were
/// built (see build.rs); so `cargo test` shows the skip in its normal output.
#[test]
#[cfg_attr(
    eventmap_no_recordings,
    ignore = "conformance SKIPPED: no recordings at ../shared/destinations or ../shared/conformance (CI=true fails)"
)]
fn conformance_recordings_are_present() {
    for dir in [destinations_dir(), conformance_dir()] {
        if !skip_missing(&dir) {
            assert!(std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()));
        }
    }
}

/// The first way our answer to a recorded case is wrong, if any.
fn judge(engine: &Engine, inputs: &[Value], expected: &[Value]) -> Option<String> {
    let got: Vec<Value> = engine
        .transform_batch(inputs.to_vec())
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
        return bad.then(|| {
            format!("the reference crashed; we must answer 200 or 400 with an error, got {got:?}")
        });
    }
    common::first_difference(&Value::Array(expected.to_vec()), &Value::Array(got), "")
}

/// A router case: the entries compared in order of their first jobId; an entry where the
/// reference crashed needs only a 200 or a 400 with an error.
fn judge_router(engine: &Engine, case: &Value) -> Option<String> {
    let mut env = engine.env.clone();
    if let Some(now) = case["now"].as_str() {
        env.clock = eventmap::eval::Clock::fixed(now)?;
    }
    if let (Value::Object(over), Value::Object(m)) = (&case["constants"], &mut env.consts) {
        for (k, v) in over {
            m.insert(k.clone(), v.clone());
        }
    }
    let expected = case.get("expected").or_else(|| case.get("response"))?;
    let got =
        match eventmap::protocol::router::route_body(&engine.plan, case["request"].clone(), &env) {
            Ok(v) => common::canonical(&v),
            Err(e) => return Some(format!("refused: {e}")),
        };
    let first_job = |e: &Value| {
        let md = &e["metadata"];
        let list = md.as_array().cloned().unwrap_or_else(|| vec![md.clone()]);
        list.iter()
            .filter_map(|m| m["jobId"].as_f64())
            .fold(f64::INFINITY, f64::min)
    };
    let sorted = |v: &Value| {
        let mut o = v["output"].as_array().cloned().unwrap_or_default();
        o.sort_by(|a, b| first_job(a).total_cmp(&first_job(b)));
        o
    };
    let (e, g) = (sorted(expected), sorted(&got));
    if e.len() != g.len() {
        return Some(format!(
            "{} entries expected, got {}: {got}",
            e.len(),
            g.len()
        ));
    }
    for (x, y) in e.iter().zip(&g) {
        if x["statusCode"].as_u64().unwrap_or(200) >= 500 {
            let code = y["statusCode"].as_u64().unwrap_or(0);
            if !(code == 200 || (code == 400 && y["error"].as_str().is_some_and(|s| !s.is_empty())))
            {
                return Some(format!("the reference crashed; got {y}"));
            }
        } else if let Some(d) = common::first_difference(x, y, "") {
            return Some(d);
        }
    }
    None
}

fn report(what: &str, total: usize, failures: &[String]) {
    eprintln!(
        "conformance {what}: {} passed, {} failed",
        total - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{what}: {} of {total} conformance cases differ:\n{}",
        failures.len(),
        failures
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_destinations_recorded_cases() {
    let dir = destinations_dir();
    if skip_missing(&dir) {
        return;
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mappings = Mappings::Dir(repo.join("mappings"));
    let mut scored = 0;
    for name in mappings.destinations() {
        let recorded = dir.join(&name);
        if !recorded.is_dir() {
            continue;
        }
        let mut engine = Engine::load(&mappings, &name)
            .expect("specs compile")
            .expect("specs exist");
        let meta = common::read_json(&recorded.join("meta.json"));
        engine.env.clock = eventmap::eval::Clock::fixed(meta["now"].as_str().unwrap_or_default())
            .expect("meta.json has a `now` time");
        engine.env.random = meta["random_hex"]
            .as_str()
            .and_then(eventmap::eval::Env::parse_hex);
        let read = |f: &str| {
            let p = recorded.join(f);
            if p.is_file() {
                common::read_json(&p)
            } else {
                Value::Null
            }
        };
        let mut cases: Vec<(String, Vec<Value>, Vec<Value>)> = Vec::new();
        if let Value::Array(suite) = read("suite.json") {
            for c in suite {
                cases.push((
                    format!("suite:{}", c["id"].as_str().unwrap_or("?")),
                    c["input"].as_array().cloned().unwrap_or_default(),
                    c["expected"].as_array().cloned().unwrap_or_default(),
                ));
            }
        }
        if let Value::Array(vectors) = read("vectors.json") {
            for (i, v) in vectors.into_iter().enumerate() {
                let expected = v["output"].as_array().cloned().unwrap_or_default();
                cases.push((format!("vectors#{i}"), vec![v["input"].clone()], expected));
            }
        }
        let mut routed: Vec<(String, Value)> = Vec::new();
        for f in ["router-suite.json", "router-vectors.json"] {
            if let Value::Array(bodies) = read(f) {
                for (i, c) in bodies.into_iter().enumerate() {
                    routed.push((format!("{f}#{i}"), c));
                }
            }
        }
        assert!(
            !cases.is_empty() || !routed.is_empty(),
            "{name}: no recorded cases"
        );
        let mut failures: Vec<String> = cases
            .iter()
            .filter_map(|(id, i, e)| judge(&engine, i, e).map(|d| format!("{id}: {d}")))
            .collect();
        failures.extend(
            routed
                .iter()
                .filter_map(|(id, c)| judge_router(&engine, c).map(|d| format!("{id}: {d}"))),
        );
        report(&name, cases.len() + routed.len(), &failures);
        scored += 1;
    }
    assert!(
        scored > 0,
        "no shipped destination has recordings in {}",
        dir.display()
    );
}

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
    if skip_missing(&dir) {
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
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(name, i, e)| judge(&engine, i, e).map(|d| format!("{name}: {d}")))
        .collect();
    report("bluecore", cases.len(), &failures);
}
