//! Front end: `eventmap diff`. Runs the same request items through two spec folders (before and
//! after a change) and prints, item by item, every place their answers differ, so a reviewer
//! sees what a spec change does to real events. Exits non-zero when anything differs.

use std::path::PathBuf;

use anyhow::{Context, bail};
use eventmap::protocol::json::to_js_string;
use eventmap::{Engine, Mappings};
use serde_json::Value;

use super::render;

#[derive(clap::Args)]
pub struct Args {
    #[arg(long)]
    destination: String,
    /// The specs before the change.
    #[arg(long)]
    mappings: PathBuf,
    /// The specs after the change.
    #[arg(long)]
    against: PathBuf,
    /// Request items: a JSON array or NDJSON.
    input: PathBuf,
    /// Most differences shown per item.
    #[arg(long, default_value_t = 20)]
    max_per_item: usize,
}

fn load(dir: &std::path::Path, name: &str) -> anyhow::Result<Engine> {
    let m = Mappings::Dir(dir.to_path_buf());
    match Engine::load(&m, name) {
        Ok(Some(e)) => Ok(e),
        Ok(None) => bail!(render::unknown_destination(&m, name)),
        Err(d) => bail!(
            "invalid specs in {}:\n{}",
            dir.display(),
            render::diagnostics(&m, &d)
        ),
    }
}

fn answer(engine: &Engine, text: &str) -> Value {
    let mut b = engine.batch();
    let mut out = Vec::new();
    b.push(text, &mut out);
    Value::Array(out.iter().map(|r| r.to_value()).collect())
}

fn short(v: Option<&Value>, secrets: &[String]) -> String {
    match v {
        None => "(absent)".into(),
        Some(Value::String(s)) if secrets.contains(s) => {
            "(a secret from the destination config)".into()
        }
        Some(v) => {
            let s = to_js_string(v);
            if s.chars().count() > 120 {
                format!("{}...", s.chars().take(120).collect::<String>())
            } else {
                s
            }
        }
    }
}

/// Every differing place, as JSON pointers with both sides; secret config values masked.
fn differences(
    a: Option<&Value>,
    b: Option<&Value>,
    at: &str,
    secrets: &[String],
    out: &mut Vec<String>,
) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            for (k, v) in x {
                differences(Some(v), y.get(k), &format!("{at}/{k}"), secrets, out);
            }
            for (k, v) in y {
                if !x.contains_key(k) {
                    differences(None, Some(v), &format!("{at}/{k}"), secrets, out);
                }
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                differences(x.get(i), y.get(i), &format!("{at}/{i}"), secrets, out);
            }
        }
        _ if a == b => {}
        _ => out.push(format!(
            "{at}: {} -> {}",
            short(a, secrets),
            short(b, secrets)
        )),
    }
}

/// The values of the config keys the spec marks secret, in this item.
fn secret_values(engine: &Engine, item: Option<&Value>) -> Vec<String> {
    let config = item
        .and_then(|i| i.get("destination"))
        .and_then(|d| d.get("Config"));
    engine
        .plan
        .secrets
        .iter()
        .filter_map(|k| {
            config
                .and_then(|c| c.get(k))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .collect()
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let before = load(&args.mappings, &args.destination)?;
    let after = load(&args.against, &args.destination)?;
    let text = std::fs::read_to_string(&args.input)
        .with_context(|| format!("cannot read {}", args.input.display()))?;
    let items: Vec<String> = if text.trim_start().starts_with('[') {
        let raw: Vec<&serde_json::value::RawValue> = serde_json::from_str(&text)
            .context("input is not a valid JSON array of request items")?;
        raw.iter().map(|r| r.get().to_owned()).collect()
    } else {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(str::to_owned)
            .collect()
    };
    let mut changed = 0;
    for (i, item) in items.iter().enumerate() {
        let (a, b) = (answer(&before, item), answer(&after, item));
        if a == b {
            continue;
        }
        changed += 1;
        let parsed = serde_json::from_str::<Value>(item).ok();
        let job = parsed.as_ref().and_then(|v| {
            v.get("metadata")
                .and_then(|m| m.get("jobId"))
                .map(ToString::to_string)
        });
        let mut secrets = secret_values(&before, parsed.as_ref());
        secrets.extend(secret_values(&after, parsed.as_ref()));
        match job {
            Some(j) => println!("item {} (jobId {j}):", i + 1),
            None => println!("item {}:", i + 1),
        }
        let mut diffs = Vec::new();
        differences(Some(&a), Some(&b), "", &secrets, &mut diffs);
        for d in diffs.iter().take(args.max_per_item) {
            println!("  {d}");
        }
        if diffs.len() > args.max_per_item {
            println!("  ... and {} more", diffs.len() - args.max_per_item);
        }
    }
    println!("{changed} of {} items answer differently", items.len());
    if changed > 0 {
        bail!("the spec change alters {changed} answer(s)");
    }
    Ok(())
}
