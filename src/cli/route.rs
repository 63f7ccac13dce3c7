//! Front end: `eventmap route`. The router endpoint's twin on the command line: a
//! routerTransform body in (a file or standard input), the answer body out.

use std::io::{self, Read, Write};
use std::path::PathBuf;

use anyhow::Context;
use eventmap::protocol::json::write_js;

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
    let engine = super::load_engine(args.mappings, &args.destination, &args.run)?;
    let mut text = String::new();
    match &args.input {
        None => io::stdin().read_to_string(&mut text)?,
        Some(p) if p.as_os_str() == "-" => io::stdin().read_to_string(&mut text)?,
        Some(p) => std::fs::File::open(p)
            .with_context(|| format!("cannot open {}", p.display()))?
            .read_to_string(&mut text)?,
    };
    let body: eventmap::value::Value =
        serde_json::from_str(&text).context("the routerTransform body is not JSON")?;
    let answer = engine.route(body).map_err(anyhow::Error::msg)?;
    let mut out = io::stdout().lock();
    write_js(&mut out, &answer)?;
    writeln!(out)?;
    Ok(())
}
