//! Front end: `eventmap transform`. Reads a JSON array of request items (answering with a
//! JSON array) or NDJSON (answering item by item, in constant memory).

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use eventmap::Engine;
use eventmap::protocol::json::write_js;
use serde_json::Value;

use super::{render, resolve_mappings};

#[derive(clap::Args)]
pub struct Args {
    /// The destination whose specs to use (case-insensitive).
    #[arg(long)]
    destination: String,
    /// The mappings folder (default: $EVENTMAP_MAPPINGS, ./mappings, or the embedded copy).
    #[arg(long)]
    mappings: Option<PathBuf>,
    /// Input file; `-` or nothing reads standard input.
    input: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mappings = resolve_mappings(args.mappings);
    let engine = match Engine::load(&mappings, &args.destination) {
        Ok(Some(e)) => e,
        Ok(None) => bail!(render::unknown_destination(&mappings, &args.destination)),
        Err(d) => bail!(
            "invalid specs for `{}`:\n{}",
            args.destination,
            render::diagnostics(&mappings, &d)
        ),
    };
    let reader: Box<dyn Read> = match &args.input {
        None => Box::new(io::stdin().lock()),
        Some(p) if p.as_os_str() == "-" => Box::new(io::stdin().lock()),
        Some(p) => Box::new(File::open(p).with_context(|| format!("cannot open {}", p.display()))?),
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);

    // The first non-blank byte tells the format: `[` is a JSON array, anything else NDJSON.
    let first = loop {
        let buf = reader.fill_buf()?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                reader.consume(i);
                break Some(b);
            }
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    match first {
        None => bail!("no input: expected a JSON array of request items, or NDJSON"),
        Some(b'[') => {
            let items: Vec<Value> = serde_json::from_reader(reader)
                .context("input is not a valid JSON array of request items")?;
            out.write_all(b"[")?;
            let mut first = true;
            for item in items {
                for resp in engine.transform(item) {
                    if !first {
                        out.write_all(b",")?;
                    }
                    first = false;
                    write_js(&mut out, &resp)?;
                }
            }
            out.write_all(b"]\n")?;
        }
        Some(_) => {
            let mut line = String::new();
            let mut n = 0usize;
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 {
                    break;
                }
                n += 1;
                if line.trim().is_empty() {
                    continue;
                }
                let item: Value = serde_json::from_str(&line)
                    .with_context(|| format!("line {n} is not valid JSON"))?;
                for resp in engine.transform(item) {
                    write_js(&mut out, &resp)?;
                    out.write_all(b"\n")?;
                }
            }
        }
    }
    out.flush()?;
    Ok(())
}
