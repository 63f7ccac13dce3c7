//! Golden cases: `tests/golden/<destination>/<case>/{input.json, output.json}` in this repo,
//! and `mappings/<destination>/tests/<case>/` next to the specs. Each input (a JSON array of
//! request items) runs through the destination's specs, by the raw fast path and the parsed
//! path, which must agree; the answer is compared with the expectation as parsed JSON. A
//! missing expectation is a failure. `BLESS=1 cargo test --test golden` rewrites them
//! (refused under CI).
//!
//! Destinations are read from `mappings/`, or from `tests/fixtures/mappings/` for the made-up
//! destinations that prove the engine knows no destination.

mod common;

use std::path::PathBuf;

use eventmap::golden::{Outcome, cases_in, run_case};
use eventmap::{Engine, Mappings};

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

#[test]
fn golden_cases() {
    let bless = common::blessing();
    let mut failures = Vec::new();
    let mut count = 0;
    let mut dests: Vec<(String, Vec<eventmap::golden::Case>)> = Vec::new();
    for d in std::fs::read_dir(root().join("tests/golden"))
        .unwrap()
        .filter_map(Result::ok)
    {
        let name = d.file_name().to_string_lossy().to_string();
        dests.push((name.clone(), cases_in(&d.path(), &format!("{name}/"))));
    }
    for dest in Mappings::Dir(root().join("mappings")).destinations() {
        let dir = root().join("mappings").join(&dest).join("tests");
        dests.push((
            dest.clone(),
            cases_in(&dir, &format!("mappings/{dest}/tests/")),
        ));
    }
    dests.sort_by(|a, b| a.0.cmp(&b.0));
    for (dest, cases) in dests {
        let engine = Engine::load(&mappings_for(&dest), &dest)
            .unwrap_or_else(|d| panic!("{dest}: specs do not compile:\n{d}"))
            .unwrap_or_else(|| panic!("{dest}: no specs"));
        for case in cases {
            count += 1;
            match run_case(&engine, &case, bless) {
                Outcome::Pass | Outcome::Blessed => {}
                Outcome::Missing => failures.push(format!(
                    "{}: no output.json (write one, or run BLESS=1 and review it)",
                    case.name
                )),
                Outcome::BadInput(e) => failures.push(format!("{}: {e}", case.name)),
                Outcome::Fail { differences } => {
                    failures.push(format!("{}:\n  {}", case.name, differences.join("\n  ")))
                }
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
