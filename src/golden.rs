//! Golden cases: a folder with `input.json` (a JSON array of request items, or a
//! routerTransform body `{"input": [...], "destType"}`) and `output.json` (the response items,
//! or the router's answer, expected); optional `now`, `random_hex` and `consts.json` files fix
//! the clock, the random bytes and constants. Found in `tests/golden/<destination>/` of this repo and in
//! `mappings/<destination>/tests/` next to a destination's specs; run by `cargo test` and by
//! `eventmap test`, which integration authors use without building anything.

use std::path::{Path, PathBuf};

use crate::value::Value;

use crate::Engine;
use crate::mask::Secrets;
use crate::protocol::json::to_js_string;

/// One case folder.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
}

/// How a case went.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Pass,
    /// The answer differs: every place it does (a response item that failed where a success
    /// was expected, or the other way round, as one line with its error text), secrets of the
    /// case's configs masked.
    Fail {
        differences: Vec<String>,
    },
    /// No `output.json` (write one, or bless and review it).
    Missing,
    /// `input.json` is unusable.
    BadInput(String),
    /// The expectation was (re)written.
    Blessed,
}

/// The case folders under `dir`, sorted; none when it does not exist.
pub fn cases_in(dir: &Path, prefix: &str) -> Vec<Case> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.join("input.json").is_file())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v.into_iter()
        .map(|dir| Case {
            name: format!(
                "{prefix}{}",
                dir.file_name().unwrap_or_default().to_string_lossy()
            ),
            dir,
        })
        .collect()
}

/// The clock golden cases run at, unless a case has a `now` file (an ISO 8601 time): fixed,
/// so that answers depending on the time are the same every run.
pub const GOLDEN_NOW: &str = "2025-01-01T00:00:00.000Z";

/// What a case runs with: the engine's environment, with the clock fixed (the case's `now`
/// file, else the engine's fixed clock, else [`GOLDEN_NOW`]), random bytes fixed (the case's
/// `random_hex` file, else the engine's, else zeros) and the case's `consts.json` overrides.
pub fn case_env(engine: &Engine, case: &Case) -> crate::eval::Env {
    let read = |f: &str| {
        std::fs::read_to_string(case.dir.join(f))
            .unwrap_or_default()
            .trim()
            .to_owned()
    };
    let mut env = engine.env.clone();
    let now = read("now");
    env.clock = match (now.is_empty(), engine.env.clock.0) {
        (false, _) => crate::eval::Clock::fixed(&now),
        (true, Some(_)) => Some(engine.env.clock),
        (true, None) => crate::eval::Clock::fixed(GOLDEN_NOW),
    }
    .unwrap_or_default();
    let hex = read("random_hex");
    if !hex.is_empty() {
        env.random = crate::eval::Env::parse_hex(&hex);
    } else if env.random.is_none() {
        env.random = Some(vec![0; 16]);
    }
    if let Ok(text) = std::fs::read_to_string(case.dir.join("consts.json"))
        && let (Ok(Value::Object(over)), Value::Object(m)) =
            (serde_json::from_str::<Value>(&text), &mut env.consts)
    {
        for (k, v) in over {
            m.insert(k, v);
        }
    }
    env
}

/// A value as the reference would print it, parsed back: numbers and key order canonical.
pub fn canonical(v: &Value) -> Value {
    serde_json::from_str(&to_js_string(v)).unwrap_or(Value::Null)
}

/// Runs a case's input through both paths (raw and parsed), which must agree.
pub fn answer(engine: &Engine, items: &[Value], env: &crate::eval::Env) -> Result<Value, String> {
    let texts: Vec<String> = items
        .iter()
        .map(|i| serde_json::to_string(i).unwrap_or_default())
        .collect();
    let parsed = Value::Array(
        items
            .iter()
            .flat_map(|i| crate::protocol::transform_value(&engine.plan, i.clone(), env))
            .map(|r| canonical(&r.to_value()))
            .collect(),
    );
    let mut batch = crate::protocol::Batch::new(&engine.plan, env);
    let mut out = Vec::new();
    for t in &texts {
        batch.push(t, &mut out);
    }
    let raw = Value::Array(out.iter().map(|r| canonical(&r.to_value())).collect());
    match first_difference(&parsed, &raw, "") {
        None => Ok(raw),
        Some(d) => Err(format!(
            "the raw fast path differs from the parsed path: {d}"
        )),
    }
}

/// Runs one case; with `bless`, writes the answer as its expectation instead of comparing.
pub fn run_case(engine: &Engine, case: &Case, bless: bool) -> Outcome {
    let input = match std::fs::read_to_string(case.dir.join("input.json"))
        .map_err(|e| e.to_string())
        .and_then(|t| serde_json::from_str::<Value>(&t).map_err(|e| e.to_string()))
    {
        Ok(v) => v,
        Err(e) => return Outcome::BadInput(format!("input.json: {e}")),
    };
    let env = case_env(engine, case);
    let secrets = case_secrets(engine, &input);
    let got = match input {
        // A list of request items: the processor endpoint, both paths.
        Value::Array(items) => match answer(engine, &items, &env) {
            Ok(v) => v,
            Err(e) => {
                return Outcome::Fail {
                    differences: vec![secrets.mask(&e).into_owned()],
                };
            }
        },
        // A routerTransform body: the router endpoint.
        body @ Value::Object(_) => {
            match crate::protocol::router::route_body(&engine.plan, body, &env) {
                Ok(v) => canonical(&v),
                Err(e) => return Outcome::BadInput(format!("input.json: {e}")),
            }
        }
        _ => {
            return Outcome::BadInput(
                "input.json must be a JSON array of request items, or a routerTransform body"
                    .into(),
            );
        }
    };
    let out = case.dir.join("output.json");
    if bless {
        let text = serde_json::to_string_pretty(&got).unwrap_or_default() + "\n";
        return match std::fs::write(&out, text) {
            Ok(()) => Outcome::Blessed,
            Err(e) => Outcome::BadInput(format!("cannot write output.json: {e}")),
        };
    }
    let Ok(text) = std::fs::read_to_string(&out) else {
        return Outcome::Missing;
    };
    let expected: Value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(e) => return Outcome::BadInput(format!("output.json: {e}")),
    };
    let differences: Vec<String> = differences(&expected, &got)
        .iter()
        .map(|d| secrets.mask(d).into_owned())
        .collect();
    if differences.is_empty() {
        Outcome::Pass
    } else {
        Outcome::Fail { differences }
    }
}

/// The secret config values of a case's request items (or a router body's), to mask in what
/// is printed about it.
pub fn case_secrets(engine: &Engine, input: &Value) -> Secrets {
    let items = match input {
        Value::Array(items) => items.as_slice(),
        Value::Object(body) => body
            .get("input")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice),
        _ => &[],
    };
    let mut secrets = Secrets::default();
    for item in items {
        if let Some(config) = item.get("destination").and_then(|d| d.get("Config")) {
            secrets.add_config(&engine.plan, config);
        }
    }
    secrets
}

/// One place two JSON values differ: its JSON pointer and each side (`None`: absent).
pub type Difference<'a> = (String, Option<&'a Value>, Option<&'a Value>);

/// Every place two JSON values differ, in order: objects key by key (then the keys only the
/// second has), lists element by element. A response item (an object with `statusCode`)
/// whose status differs is one difference, not one per key.
pub fn walk_differences<'a>(
    a: Option<&'a Value>,
    b: Option<&'a Value>,
    at: &str,
    out: &mut Vec<Difference<'a>>,
) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y)))
            if x.get("statusCode") == y.get("statusCode") =>
        {
            for (k, v) in x {
                walk_differences(Some(v), y.get(k), &format!("{at}/{k}"), out);
            }
            for (k, v) in y {
                if !x.contains_key(k) {
                    walk_differences(None, Some(v), &format!("{at}/{k}"), out);
                }
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) => {
            for i in 0..x.len().max(y.len()) {
                walk_differences(x.get(i), y.get(i), &format!("{at}/{i}"), out);
            }
        }
        _ if a == b => {}
        _ => out.push((at.to_owned(), a, b)),
    }
}

/// Every place `got` differs from `expected`, one line each; a response item's status
/// difference names the error text of the side that failed.
pub fn differences(expected: &Value, got: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk_differences(Some(expected), Some(got), "", &mut found);
    found
        .into_iter()
        .map(|(at, e, g)| match (e, g) {
            (Some(e), Some(g)) if is_response(e) && is_response(g) => {
                format!("{at}: expected {}, got {}", response(e), response(g))
            }
            (Some(e), None) => format!("{at}: expected {}, got nothing", brief(e)),
            (None, Some(g)) => format!("{at}: expected nothing, got {}", brief(g)),
            (e, g) => format!(
                "{at}: expected {}, got {}",
                e.map_or_else(String::new, short),
                g.map_or_else(String::new, short)
            ),
        })
        .collect()
}

/// The first place two JSON values differ, as a JSON pointer and both sides.
pub fn first_difference(expected: &Value, got: &Value, at: &str) -> Option<String> {
    differences(expected, got)
        .into_iter()
        .next()
        .map(|d| format!("{at}{d}"))
}

fn is_response(v: &Value) -> bool {
    v.get("statusCode").is_some()
}

/// A response item in a line: its status, and its error text when it has one.
fn response(v: &Value) -> String {
    let code = v.get("statusCode").map_or_else(String::new, to_js_string);
    match v.get("error") {
        Some(Value::String(e)) => format!("a {code} ({e})"),
        Some(e) => format!("a {code} ({})", short(e)),
        None => format!("a {code}"),
    }
}

/// A value in a line; a failed response item by its status and error text.
pub fn brief(v: &Value) -> String {
    if is_response(v) && v.get("error").is_some() {
        response(v)
    } else {
        short(v)
    }
}

fn short(v: &Value) -> String {
    let s = to_js_string(v);
    if s.chars().count() > 300 {
        format!("{}...", s.chars().take(300).collect::<String>())
    } else {
        s
    }
}
