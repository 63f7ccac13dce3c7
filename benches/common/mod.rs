//! What the benches share: a full SDK context for events, and criterion's estimates.
// Each bench uses a part of it.
#![allow(dead_code)]

use std::path::Path;

use serde_json::{Value, json};

/// A full SDK context; keys the event already has are kept as they are.
pub fn sdk_context(i: usize) -> Value {
    json!({
        "app": {"name": "RudderLabs JavaScript SDK", "build": "1.0.0", "namespace": "com.rudderlabs.javascript", "version": "3.7.6", "installType": "npm"},
        "device": {"id": format!("dev-{i}"), "manufacturer": "Apple", "model": "iPhone15,2", "name": "iPhone", "type": "ios", "adTrackingEnabled": true, "advertisingId": format!("adid-{i}")},
        "library": {"name": "RudderLabs JavaScript SDK", "version": "3.7.6"},
        "locale": "en-US",
        "os": {"name": "iOS", "version": "17.1.2"},
        "screen": {"density": 3, "width": 1179, "height": 2556, "innerWidth": 393, "innerHeight": 852},
        "network": {"bluetooth": false, "carrier": "Vodafone UK", "cellular": true, "wifi": false},
        "timezone": "Europe/London",
        "userAgent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
        "ip": "203.0.113.7",
        "page": {"path": "/products/lamp", "url": "https://shop.example.com/products/lamp?utm_source=news", "title": "Desk lamp | Shop", "referrer": "https://www.google.com/", "referring_domain": "www.google.com", "search": "?utm_source=news", "tab_url": "https://shop.example.com/products/lamp", "initial_referrer": "$direct", "initial_referring_domain": ""},
        "campaign": {"name": "spring", "source": "news", "medium": "email", "term": "lamp", "content": "hero"},
        "sessionId": 1714547827816i64 + i as i64,
        "sessionStart": false,
        "consentManagement": {"deniedConsentIds": [], "allowedConsentIds": ["C0001", "C0002"], "provider": "oneTrust", "resolutionStrategy": "and"},
        "traits": {"firstName": "Ada", "lastName": "Lovelace", "email": format!("ada.{i}@example.com"), "phone": "+44 20 7946 0000", "address": {"city": "London", "country": "GB", "postalCode": "NW1 6XE", "street": "12 Crescent"}}
    })
}

/// The floor: every item parsed into a `serde_json::Value`, and the same response items
/// serialized into `out`, nothing else.
pub fn floor_items(items: &[String], responses: &[Value], out: &mut Vec<u8>) -> usize {
    out.clear();
    for t in items {
        let v: Value = serde_json::from_str(t).unwrap();
        std::hint::black_box(&v);
    }
    serde_json::to_writer(&mut *out, responses).unwrap();
    out.len()
}

/// eventmap's raw fast path over request items as text, the answers written into `out` as
/// one JSON array (what the CLI and the server do for a batch).
pub fn transform_items(engine: &eventmap::Engine, items: &[String], out: &mut Vec<u8>) -> usize {
    out.clear();
    let mut batch = engine.batch();
    let mut r = Vec::with_capacity(4);
    out.push(b'[');
    for t in items {
        r.clear();
        batch.push(t, &mut r);
        for x in &r {
            eventmap::protocol::json::write_js_of(&mut *out, x).unwrap();
            out.push(b',');
        }
    }
    out.push(b']');
    out.len()
}

/// Reads criterion's estimate (mean ns per iteration) of one benchmark, from the target
/// directory criterion writes to (`CARGO_TARGET_DIR` when set).
pub fn mean_ns(group: &str, bench: &str) -> Option<f64> {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target"),
        std::path::PathBuf::from,
    );
    let p = target.join(format!("criterion/{group}/{bench}/new/estimates.json"));
    let v: Value = serde_json::from_str(&std::fs::read_to_string(p).ok()?).ok()?;
    v["mean"]["point_estimate"].as_f64()
}
