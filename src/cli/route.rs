//! Front end: `eventmap route`. The router endpoint's twin on the command line: a
//! routerTransform body in (a file or standard input), the answer body out.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use eventmap::Engine;
use eventmap::protocol::json::write_js;

use super::{Found, render};

#[derive(clap::Args)]
pub struct Args {
    /// The destination whose specs to use (case-insensitive).
    #[arg(long)]
    destination: String,
    /// The mappings folder (default: $EVENTMAP_MAPPINGS, ./mappings, or the embedded copy).
    #[arg(long)]
    mappings: Option<PathBuf>,
    #[command(flatten)]
    run: super::RunArgs,
    /// The body (`{"input": [...], "destType": "..."}`); `-` or nothing reads standard input.
    input: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let found = Found::resolve(args.mappings);
    // stdout is the answer: where the specs came from goes to stderr.
    eprintln!("{}", found.describe());
    let mappings = found.mappings;
    let mut engine = match Engine::load(&mappings, &args.destination) {
        Ok(Some(e)) => e,
        Ok(None) => bail!(render::unknown_destination(&mappings, &args.destination)),
        Err(d) => bail!(
            "invalid specs for `{}`:\n{}",
            args.destination,
            render::diagnostics(&mappings, &d)
        ),
    };
    args.run.apply(&mut engine, true)?;
    let mut text = String::new();
    match &args.input {
        None => io::stdin().read_to_string(&mut text)?,
        Some(p) if p.as_os_str() == "-" => io::stdin().read_to_string(&mut text)?,
        Some(p) => std::fs::File::open(p)
            .with_context(|| format!("cannot open {}", p.display()))?
            .read_to_string(&mut text)?,
    };
    let body: serde_json::Value =
        serde_json::from_str(&text).context("the routerTransform body is not JSON")?;
    let answer = engine.route(body).map_err(anyhow::Error::msg)?;
    let mut out = io::stdout().lock();
    write_js(&mut out, &answer)?;
    writeln!(out)?;
    Ok(())
}
