//! Golden cases: `tests/golden/<destination>/<case>/{input.json, output.json}`. Each input (a
//! JSON array of request items) is run through the destination's specs and compared with the
//! expected response items as parsed JSON. A missing expectation is a failure.
//! `BLESS=1 cargo test --test golden` rewrites the expectations (refused under CI).
//!
//! Destinations are read from `mappings/`, or from `tests/fixtures/mappings/` for the made-up
//! destinations that prove the engine knows no destination.

mod common;

use std::path::{Path, PathBuf};

use eventmap::{Engine, Mappings};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn mappings_for(dest: &str) -> Mappings {
    let shipped = root().join("mappings");
    if shipped.join(dest).join("destination.yaml").is_file() {
        Mappings::Dir(shipped)
    } else {
        Mappings::Dir(root().join("tests/fixtures/mappings"))
    }
}

fn sorted_dirs(p: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(p)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn golden_cases() {
    let bless = common::blessing();
    let mut failures = Vec::new();
    let mut count = 0;
    for dest_dir in sorted_dirs(&root().join("tests/golden")) {
        let dest = dest_dir.file_name().unwrap().to_string_lossy().to_string();
        let engine = Engine::load(&mappings_for(&dest), &dest)
            .unwrap_or_else(|d| panic!("{dest}: specs do not compile:\n{d}"))
            .unwrap_or_else(|| panic!("{dest}: no specs"));
        for case in sorted_dirs(&dest_dir) {
            count += 1;
            let name = format!("{dest}/{}", case.file_name().unwrap().to_string_lossy());
            let input = common::read_json(&case.join("input.json"));
            let Value::Array(items) = input else {
                failures.push(format!(
                    "{name}: input.json must be a JSON array of request items"
                ));
                continue;
            };
            let got = Value::Array(
                engine
                    .transform_batch(items)
                    .iter()
                    .map(common::canonical)
                    .collect(),
            );
            let out = case.join("output.json");
            if bless {
                common::write_pretty(&out, &got);
                continue;
            }
            if !out.is_file() {
                failures.push(format!(
                    "{name}: no output.json (write one, or run BLESS=1 and review it)"
                ));
                continue;
            }
            let expected = common::read_json(&out);
            if let Some(d) = common::first_difference(&expected, &got, "") {
                failures.push(format!(
                    "{name}: {d}\n  expected: {}\n  got:      {}",
                    serde_json::to_string(&expected).unwrap(),
                    serde_json::to_string(&got).unwrap()
                ));
            }
        }
    }
    assert!(count > 0, "no golden cases found");
    eprintln!(
        "golden: {} passed, {} failed",
        count - failures.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} golden case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
