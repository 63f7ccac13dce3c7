//! Fuzz target: any bytes as a request item, through the raw fast path and (when the bytes
//! are JSON) the parsed path. Neither may panic; both must answer, alike.
#![no_main]

use std::sync::OnceLock;

use eventmap::{Engine, Mappings};
use libfuzzer_sys::fuzz_target;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| Engine::load(&Mappings::Embedded, "bluecore").unwrap().unwrap())
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let e = engine();
    let mut batch = e.batch();
    let mut out = Vec::new();
    batch.push(text, &mut out);
    assert!(!out.is_empty());
    let fast: Vec<_> = out.iter().map(|r| r.to_value()).collect();
    for r in &fast {
        let code = r["statusCode"].as_u64().unwrap_or(0);
        assert!(code == 200 || code == 400);
    }
    if let Ok(v) = serde_json::from_str::<eventmap::value::Value>(text) {
        assert_eq!(e.transform(v), fast);
    }
});
