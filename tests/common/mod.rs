//! Helpers shared by the integration tests: canonical JSON comparison with readable diffs,
//! and the BLESS switch.
#![allow(dead_code)]

use std::path::Path;

use eventmap::protocol::json::to_js_string;
use serde_json::Value;

/// A value as the reference would print it, parsed back: numbers and key order canonical.
pub fn canonical(v: &Value) -> Value {
    serde_json::from_str(&to_js_string(v)).expect("our own output parses")
}

/// The first place two JSON values differ, as a JSON pointer and both sides.
pub fn first_difference(expected: &Value, got: &Value, at: &str) -> Option<String> {
    match (expected, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, va) in a {
                let p = format!("{at}/{k}");
                match b.get(k) {
                    None => return Some(format!("{p}: expected {}, got nothing", short(va))),
                    Some(vb) => {
                        if let Some(d) = first_difference(va, vb, &p) {
                            return Some(d);
                        }
                    }
                }
            }
            b.iter()
                .find(|(k, _)| !a.contains_key(*k))
                .map(|(k, vb)| format!("{at}/{k}: expected nothing, got {}", short(vb)))
        }
        (Value::Array(a), Value::Array(b)) => {
            for (i, (va, vb)) in a.iter().zip(b).enumerate() {
                if let Some(d) = first_difference(va, vb, &format!("{at}/{i}")) {
                    return Some(d);
                }
            }
            (a.len() != b.len())
                .then(|| format!("{at}: expected {} items, got {}", a.len(), b.len()))
        }
        _ => (expected != got)
            .then(|| format!("{at}: expected {}, got {}", short(expected), short(got))),
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

/// `BLESS=1` rewrites expectations; it refuses to run under CI.
pub fn blessing() -> bool {
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    if bless && std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("BLESS=1 rewrites expectations and is refused under CI");
    }
    bless
}

/// Writes JSON the way golden files are kept: pretty, JavaScript numbers and key order.
pub fn write_pretty(path: &Path, v: &Value) {
    let canon = canonical(v);
    let text = serde_json::to_string_pretty(&canon).expect("serializable");
    std::fs::write(path, text + "\n").expect("golden file is writable");
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
