//! Front end: `eventmap diff`. Runs the same request items through two spec folders (before and
//! after a change) and prints, item by item, every place their answers differ, so a reviewer
//! sees what a spec change does to real events. Exits non-zero when anything differs.

use std::path::PathBuf;

use anyhow::{Context, bail};
use eventmap::golden::{brief, walk_differences};
use eventmap::mask::Secrets;
use eventmap::protocol::json::to_js_string;
use eventmap::value::Value;
use eventmap::{Engine, Mappings};

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

/// A value in a line, secrets masked (a whole secret value, or one inside a longer text).
fn short(v: Option<&Value>, secrets: &Secrets) -> String {
    match v {
        None => "(absent)".into(),
        Some(Value::String(s)) if secrets.key_of(s).is_some() => {
            format!("(the secret {})", secrets.key_of(s).unwrap_or_default())
        }
        Some(v) if v.get("statusCode").is_some() => secrets.mask(&brief(v)).into_owned(),
        Some(v) => {
            let s = to_js_string(v);
            let s = if s.chars().count() > 120 {
                format!("{}...", s.chars().take(120).collect::<String>())
            } else {
                s
            };
            secrets.mask(&s).into_owned()
        }
    }
}

/// The secret values of an item's config (as sent, and as each side resolves it).
fn secret_values(before: &Engine, after: &Engine, item: Option<&Value>) -> Secrets {
    let mut secrets = Secrets::default();
    let Some(item) = item else {
        return secrets;
    };
    for engine in [before, after] {
        if let Some(config) = item.get("destination").and_then(|d| d.get("Config")) {
            secrets.add_config(&engine.plan, config);
        }
        if let Ok(p) = eventmap::protocol::processor::prepare(&engine.plan, item.clone()) {
            secrets.add_config(&engine.plan, &p.config);
        }
    }
    secrets
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
        let secrets = secret_values(&before, &after, parsed.as_ref());
        match job {
            Some(j) => println!("item {} (jobId {j}):", i + 1),
            None => println!("item {}:", i + 1),
        }
        let mut found = Vec::new();
        walk_differences(Some(&a), Some(&b), "", &mut found);
        let diffs: Vec<String> = found
            .iter()
            .map(|(at, x, y)| format!("{at}: {} -> {}", short(*x, &secrets), short(*y, &secrets)))
            .collect();
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
