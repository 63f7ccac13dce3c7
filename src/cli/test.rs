//! Front end: `eventmap test`. Runs the golden cases next to each destination's specs
//! (`<mappings>/<destination>/tests/<case>/{input.json, output.json}`), so integration
//! authors test a spec change without building anything. `--bless` writes the answers as the
//! expectations, to review before committing.

use std::path::PathBuf;

use anyhow::bail;
use eventmap::golden::{Outcome, cases_in, run_case};
use eventmap::{Engine, Mappings};

use super::{render, resolve_mappings};

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
    /// The clock, random bytes and constants for cases that do not fix their own (constants
    /// apply to the destinations that declare them).
    #[command(flatten)]
    run: super::RunArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mappings = resolve_mappings(args.mappings);
    let Mappings::Dir(dir) = &mappings else {
        bail!(
            "golden cases live in a mappings folder; pass --mappings DIR (the embedded copy has none)"
        );
    };
    let names = match args.destination {
        Some(d) => vec![d],
        None => mappings.destinations(),
    };
    let (mut passed, mut failed) = (0, 0);
    for name in names {
        let mut engine = match Engine::load(&mappings, &name) {
            Ok(Some(e)) => e,
            Ok(None) => bail!(render::unknown_destination(&mappings, &name)),
            Err(d) => bail!(
                "invalid specs for `{name}`:\n{}",
                render::diagnostics(&mappings, &d)
            ),
        };
        args.run.apply(&mut engine, false)?;
        let cases = cases_in(
            &dir.join(&engine.plan.name).join("tests"),
            &format!("{}/tests/", engine.plan.name),
        );
        for case in cases {
            match run_case(&engine, &case, args.bless) {
                Outcome::Pass => {
                    passed += 1;
                    println!("ok      {}", case.name);
                }
                Outcome::Blessed => {
                    passed += 1;
                    println!(
                        "blessed {} (review output.json before committing)",
                        case.name
                    );
                }
                Outcome::Missing => {
                    failed += 1;
                    println!(
                        "FAIL    {}: no output.json (run with --bless, then review it)",
                        case.name
                    );
                }
                Outcome::BadInput(e) => {
                    failed += 1;
                    println!("FAIL    {}: {e}", case.name);
                }
                Outcome::Fail { difference, .. } => {
                    failed += 1;
                    println!("FAIL    {}: {difference}", case.name);
                }
            }
        }
    }
    println!("golden: {passed} passed, {failed} failed");
    if failed > 0 {
        bail!("{failed} golden case(s) failed");
    }
    Ok(())
}
