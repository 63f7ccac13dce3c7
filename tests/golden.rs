//! Golden cases: `tests/golden/<destination>/<case>/{input.json, output.json}` in this repo,
//! and `mappings/<destination>/tests/<case>/` next to the specs. Each input (a JSON array of
//! request items) runs through the destination's specs, by the raw fast path and the parsed
//! path, which must agree; the answer is compared with the expectation as parsed JSON. A
//! missing expectation is a failure. `BLESS=1 cargo test --test golden` rewrites them
//! (refused under CI). Each shipped destination's cases must reach all of its error texts and
//! 90% of its rules, as `eventmap test --coverage` counts them.
//!
//! Destinations are read from `mappings/`, or from `tests/fixtures/mappings/` for the made-up
//! destinations that prove the engine knows no destination.

mod common;

use std::path::PathBuf;

use eventmap::coverage::{Report, collector, percent};
use eventmap::golden::{Outcome, cases_in, run_case};

/// The share of its rules a shipped destination's golden cases must reach (and all of its
/// error texts).
const MIN_RULES: f64 = 90.0;
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
    let shipped = Mappings::Dir(root().join("mappings")).destinations();
    let mut low = Vec::new();
    for (dest, cases) in dests {
        let mut engine = Engine::load(&mappings_for(&dest), &dest)
            .unwrap_or_else(|d| panic!("{dest}: specs do not compile:\n{d}"))
            .unwrap_or_else(|| panic!("{dest}: no specs"));
        let hits = collector();
        engine.env.coverage = Some(hits.clone());
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
        if shipped.contains(&dest) {
            let seen = hits.lock().unwrap().clone();
            let report = Report::new(&engine.plan, &seen);
            let (rules, errors) = (report.rules_reached(), report.errors_reached());
            if percent(rules) < MIN_RULES || errors.0 < errors.1 {
                let missed: Vec<String> = report
                    .missed()
                    .map(|r| {
                        format!(
                            "    {}:{}:{}  {}",
                            r.hit.file, r.hit.line, r.hit.col, r.what
                        )
                    })
                    .collect();
                low.push(format!(
                    "{dest}: rules {}/{}, error texts {}/{}\n{}",
                    rules.0,
                    rules.1,
                    errors.0,
                    errors.1,
                    missed.join("\n")
                ));
            }
        }
    }
    assert!(
        low.is_empty(),
        "golden cases must reach every error text and {MIN_RULES}% of the rules of each shipped destination (eventmap test --coverage):\n{}",
        low.join("\n")
    );
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
