//! Front end: `eventmap test`. Runs the golden cases next to each destination's specs
//! (`<mappings>/<destination>/tests/<case>/{input.json, output.json}`), so integration
//! authors test a spec change without building anything: every difference of every case,
//! a line per destination, and with `--coverage` the spec rules no case reaches. `--bless`
//! writes the answers as the expectations, to review before committing.

use std::path::PathBuf;

use anyhow::bail;
use eventmap::coverage::{Report, collector, percent};
use eventmap::golden::{Outcome, cases_in, run_case};
use eventmap::{Engine, Mappings};

use super::{Found, render};

#[derive(clap::Args)]
pub struct Args {
    /// Only this destination (default: all).
    #[arg(long)]
    destination: Option<String>,
    #[arg(long)]
    mappings: Option<PathBuf>,
    /// Write each answer as the case's expectation instead of comparing.
    #[arg(long)]
    bless: bool,
    /// Also tell which spec rules (fields, branches, checks, error texts) no case reaches,
    /// per destination, with file:line:col.
    #[arg(long)]
    coverage: bool,
    /// With --coverage: fail when a destination reaches less than this share of its rules
    /// (a percentage).
    #[arg(long, value_name = "PCT", requires = "coverage")]
    min_rules: Option<f64>,
    /// With --coverage: fail when a destination reaches less than this share of its error
    /// texts (a percentage).
    #[arg(long, value_name = "PCT", requires = "coverage")]
    min_error_texts: Option<f64>,
    /// The clock, random bytes and constants for cases that do not fix their own (constants
    /// apply to the destinations that declare them).
    #[command(flatten)]
    run: super::RunArgs,
}

/// How one destination's cases went.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let found = Found::resolve(args.mappings);
    println!("{}", found.describe());
    let mappings = &found.mappings;
    let Mappings::Dir(dir) = mappings else {
        bail!(
            "golden cases live in a mappings folder; pass --mappings DIR (the embedded copy has none)"
        );
    };
    let names = match args.destination {
        Some(d) => vec![d],
        None => mappings.destinations(),
    };
    let mut total = Tally::default();
    let mut below = Vec::new();
    let (mut all_rules, mut all_errors) = ((0, 0), (0, 0));
    for name in names {
        let mut engine = match Engine::load(mappings, &name) {
            Ok(Some(e)) => e,
            Ok(None) => bail!(render::unknown_destination(mappings, &name)),
            Err(d) => bail!(
                "invalid specs for `{name}`:\n{}",
                render::diagnostics(mappings, &d)
            ),
        };
        args.run.apply(&mut engine, false)?;
        let hits = collector();
        if args.coverage {
            engine.env.coverage = Some(hits.clone());
        }
        let dest = engine.plan.name.clone();
        let cases = cases_in(&dir.join(&dest).join("tests"), &format!("{dest}/tests/"));
        let mut tally = Tally::default();
        for case in &cases {
            match run_case(&engine, case, args.bless) {
                Outcome::Pass => {
                    tally.passed += 1;
                    println!("ok      {}", case.name);
                }
                Outcome::Blessed => {
                    tally.passed += 1;
                    println!(
                        "blessed {} (review output.json before committing)",
                        case.name
                    );
                }
                Outcome::Missing => {
                    tally.failed += 1;
                    println!(
                        "FAIL    {}: no output.json (run with --bless, then review it)",
                        case.name
                    );
                }
                Outcome::BadInput(e) => {
                    tally.failed += 1;
                    println!("FAIL    {}: {e}", case.name);
                }
                Outcome::Fail { differences } => {
                    tally.failed += 1;
                    println!("FAIL    {}: {} difference(s)", case.name, differences.len());
                    for d in differences {
                        println!("          {d}");
                    }
                }
            }
        }
        let mut line = format!("{dest}: {} passed, {} failed", tally.passed, tally.failed);
        if cases.is_empty() {
            line.push_str(" (no golden cases: add some under tests/)");
        }
        if args.coverage {
            let seen = hits
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone();
            let report = Report::new(&engine.plan, &seen);
            let (rules, errors) = (report.rules_reached(), report.errors_reached());
            line.push_str(&format!(
                "; coverage: rules {}/{} ({:.1}%), error texts {}/{} ({:.1}%)",
                rules.0,
                rules.1,
                percent(rules),
                errors.0,
                errors.1,
                percent(errors)
            ));
            println!("{line}");
            for r in report.missed() {
                println!(
                    "  not reached: {}:{}:{}  {}  ({})",
                    r.hit.file, r.hit.line, r.hit.col, r.what, r.spec_path
                );
            }
            let dead: Vec<_> = report.dead().collect();
            if let Some(first) = dead.first() {
                println!(
                    "  dead: {} rule(s) after an unconditional fail or return can never run, \
                     the first at {}:{}:{} ({}); not counted",
                    dead.len(),
                    first.hit.file,
                    first.hit.line,
                    first.hit.col,
                    first.spec_path
                );
            }
            all_rules = (all_rules.0 + rules.0, all_rules.1 + rules.1);
            all_errors = (all_errors.0 + errors.0, all_errors.1 + errors.1);
            let low_rules = args.min_rules.is_some_and(|m| percent(rules) < m);
            let low_errors = args.min_error_texts.is_some_and(|m| percent(errors) < m);
            if low_rules || low_errors {
                below.push(dest.clone());
            }
        } else {
            println!("{line}");
        }
        total.passed += tally.passed;
        total.failed += tally.failed;
    }
    println!("golden: {} passed, {} failed", total.passed, total.failed);
    if args.coverage {
        println!(
            "coverage: rules {}/{} ({:.1}%), error texts {}/{} ({:.1}%)",
            all_rules.0,
            all_rules.1,
            percent(all_rules),
            all_errors.0,
            all_errors.1,
            percent(all_errors)
        );
    }
    if total.failed > 0 {
        bail!("{} golden case(s) failed", total.failed);
    }
    if !below.is_empty() {
        bail!(
            "coverage below the minimum for {} destination(s): {}",
            below.len(),
            below.join(", ")
        );
    }
    Ok(())
}
