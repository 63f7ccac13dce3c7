//! Hardening: whatever a source sends, the engine answers. Property tests over arbitrary JSON
//! as a request item, as a message, as a destination config, with wrong types at every path
//! the Bluecore specs read, and arbitrary messages and configs through every shipped
//! destination; plus fixed cases for deep nesting, huge strings and arrays,
//! numbers beyond i64/u64/f64, duplicate keys and fan-out floods.
//!
//! Every property: no panic; at least one response item per input; every item a 200 or a
//! 400, and a 400 carries an error text; the raw fast path and the parsed path agree.
//! The number of cases is bounded for CI (`PROPTEST_CASES` raises it).

use std::path::Path;
use std::sync::OnceLock;

use eventmap::json;
use eventmap::value::Value;
use eventmap::{Engine, Mappings};
use proptest::prelude::*;

fn engine() -> &'static Engine {
    static E: OnceLock<Engine> = OnceLock::new();
    E.get_or_init(|| {
        let m = Mappings::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"));
        Engine::load(&m, "bluecore").unwrap().unwrap()
    })
}

/// Every shipped destination, with its declared config keys.
fn all_engines() -> &'static [(Engine, Vec<String>)] {
    static E: OnceLock<Vec<(Engine, Vec<String>)>> = OnceLock::new();
    E.get_or_init(|| {
        let m = Mappings::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"));
        m.destinations()
            .iter()
            .map(|d| {
                let mut e = Engine::load(&m, d).unwrap().unwrap();
                e.env.clock = eventmap::eval::Clock::fixed("2025-01-01T00:00:00.000Z").unwrap();
                // Fixed random bytes: both paths must draw the same nonce (emarsys).
                e.env.random = Some(vec![0x5a; 16]);
                let keys = e.plan.config_checks.iter().map(|c| c.key.clone()).collect();
                (e, keys)
            })
            .collect()
    })
}

/// Runs one item's text through both paths and checks the invariants.
fn check_text(text: &str) -> Result<Vec<Value>, TestCaseError> {
    check_text_with(engine(), text)
}

fn check_text_with(e: &Engine, text: &str) -> Result<Vec<Value>, TestCaseError> {
    let mut batch = e.batch();
    let mut fast = Vec::new();
    batch.push(text, &mut fast);
    prop_assert!(!fast.is_empty(), "no response for {text:.300}");
    let fast: Vec<Value> = fast.iter().map(|r| r.to_value()).collect();
    for r in &fast {
        let code = r["statusCode"].as_u64().unwrap_or(0);
        prop_assert!(code == 200 || code == 400, "status {code} for {text:.300}");
        if code == 400 {
            prop_assert!(
                r["error"].as_str().is_some_and(|s| !s.is_empty()),
                "400 without an error: {r}"
            );
        }
    }
    if let Ok(v) = serde_json::from_str::<Value>(text) {
        let slow = e.transform(v);
        prop_assert_eq!(&slow, &fast, "paths disagree for {:.300}", text);
    }
    // Again in the same batch, its destination now known: the same answer, as text.
    let (first, again) = (written(e, &[text], 0), written(e, &[text, text], 1));
    prop_assert_eq!(first, again, "a second time differs for {:.300}", text);
    Ok(fast)
}

/// The answers to the `at`-th of `items`, mapped in one batch, as the text they are written as.
fn written(e: &Engine, items: &[&str], at: usize) -> String {
    use eventmap::protocol::json::WriteJs;
    let mut batch = e.batch();
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut responses = Vec::new();
        batch.push(item, &mut responses);
        if i == at {
            for r in &responses {
                r.write_js(&mut out);
                out.push(b'\n');
            }
        }
    }
    String::from_utf8(out).unwrap()
}

#[test]
fn a_destination_seen_before_is_taken_as_known_only_where_it_is_the_items_own() {
    let e = engine();
    let dest = serde_json::to_string(&base_destination()).unwrap();
    let other = dest.replace("\"ns\"", "\"other\"");
    let msg = r#"{"type":"identify","userId":"u","traits":{"email":"a@b.c","action":"identify"}}"#;
    let nested = format!(
        r#"{{"type":"identify","userId":"u","traits":{{"email":"a@b.c","destination":{dest}}}}}"#
    );
    let first = format!(r#"{{"message":{msg},"destination":{dest},"metadata":{{"jobId":1}}}}"#);
    let items = [
        // Members after the destination are the item's own text.
        format!(r#"{{"message":{msg},"destination":{dest},"metadata":{{"jobId":2,"z":"é"}}}}"#),
        format!(
            r#"{{"metadata":{{"jobId":3}},"destination":{dest},"connection":{{"c":1}},"message":{msg}}}"#
        ),
        // The same text inside the message, before the item's own destination (the same,
        // or another).
        format!(r#"{{"message":{nested},"destination":{dest},"metadata":{{"jobId":4}}}}"#),
        format!(r#"{{"message":{nested},"destination":{other},"metadata":{{"jobId":5}}}}"#),
        // Given twice, or spaced.
        format!(r#"{{"message":{msg},"destination":{dest},"destination":{other}}}"#),
        format!(r#"{{"message":{msg},"destination":{other},"destination":{dest}}}"#),
        format!(r#"{{"message":{msg}, "destination": {dest} ,"metadata":{{"jobId":6}}}}"#),
        // The text followed by more of a longer value.
        format!(r#"{{"message":{msg},"destination":{dest}x}}"#),
        // Metadata in JavaScript's form is not read either: before or after the
        // destination, or after a `"metadata":` inside the message; not in that form, or
        // given twice, or not JSON, it is.
        format!(
            r#"{{"message":{msg},"metadata":{{"jobId":7,"a":[1,{{"b":null}}]}},"destination":{dest}}}"#
        ),
        format!(
            r#"{{"message":{{"type":"identify","userId":"u","traits":{{"metadata":{{"jobId":8}}}}}},"metadata":{{"jobId":9}},"destination":{dest}}}"#
        ),
        format!(r#"{{"message":{msg},"metadata":{{"jobId":10, "a":1}},"destination":{dest}}}"#),
        format!(r#"{{"message":{msg},"metadata":{{"jobId":1.50}},"destination":{dest}}}"#),
        format!(
            r#"{{"message":{msg},"metadata":{{"jobId":11}},"destination":{dest},"metadata":{{"jobId":12}}}}"#
        ),
        format!(r#"{{"message":{msg},"metadata":{{"jobId":13,"jobId":14}},"destination":{dest}}}"#),
        format!(r#"{{"message":{msg},"metadata":{{"jobId":15}}x,"destination":{dest}}}"#),
        format!(r#"{{"message":{msg},"metadata":"text","destination":{dest}}}"#),
    ];
    for item in &items {
        let alone = written(e, &[item], 0);
        assert!(!alone.is_empty());
        assert_eq!(written(e, &[&first, item], 1), alone, "{item}");
    }
}

fn check(item: &Value) -> Result<Vec<Value>, TestCaseError> {
    check_text(&serde_json::to_string(item).unwrap())
}

fn any_string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z_ .]{0,12}",
        "\\PC{0,16}",
        Just(String::new()),
        Just("identify".to_owned()),
        Just("track".to_owned()),
        Just("record".to_owned()),
        Just("subscription_event".to_owned()),
        Just("Order Completed".to_owned()),
        Just("Products Searched".to_owned()),
        Just("product viewed".to_owned()),
        Just("{{ event.userId || \"x\" }}".to_owned()),
        Just("__proto__".to_owned()),
        Just("constructor".to_owned()),
        Just("a.b.0".to_owned()),
        Just("01".to_owned()),
    ]
}

fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any_string().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((any_string(), inner), 0..6)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// JSON whose keys and strings are few and often the opening a guessed cut looks for.
fn cut_prone_json() -> impl Strategy<Value = Value> {
    let text =
        prop_oneof![Just("m"), Just("},{\"m\":"), Just("x\\"), Just("}")].prop_map(String::from);
    let leaf = prop_oneof![
        Just(Value::Null),
        (0..3i64).prop_map(Value::from),
        text.clone().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((text.clone(), inner), 0..4)
                .prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

fn base_destination() -> Value {
    json!({"ID": "d", "Config": {"bluecoreNamespace": "ns", "eventsMapping": [
        {"from": "Checkout Started", "to": "add_to_cart"}, {"from": "Checkout Started", "to": "wishlist"},
        {"from": "App Opened", "to": "identify"}, {"from": "Joined", "to": "optin"}]}})
}

/// A Bluecore-shaped message whose every read path may hold anything.
fn shaped_message() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(json!("identify")),
            Just(json!("track")),
            Just(json!("TRACK")),
            any_json()
        ],
        prop_oneof![
            Just(json!("Order Completed")),
            Just(json!("Product Viewed")),
            Just(json!("Products Searched")),
            Just(json!("SUBSCRIPTION_EVENT")),
            Just(json!("Checkout Started")),
            Just(json!("App Opened")),
            Just(json!("Joined")),
            any_json()
        ],
        any_json(),
        any_json(),
        any_json(),
        any_json(),
        any_json(),
        any_json(),
        prop_oneof![Just(json!("u1")), any_json()],
    )
        .prop_map(
            |(ty, event, traits, ctx_traits, props, products, consent, ext, user)| {
                let mut p = match props {
                    Value::Object(m) => Value::Object(m),
                    other => json!({"x": other}),
                };
                p["products"] = products;
                p["channelConsents"] = json!({"email": consent});
                json!({
                    "type": ty, "event": event, "userId": user, "anonymousId": "anon",
                    "traits": traits, "properties": p,
                    "context": {"traits": ctx_traits, "externalId": ext, "app": {"version": "1"}}
                })
            },
        )
}

/// A message any destination might get: a type it takes or not, and anything at the paths
/// destinations read.
fn any_destination_message() -> impl Strategy<Value = Value> {
    (
        prop_oneof![
            Just(json!("identify")),
            Just(json!("track")),
            Just(json!("page")),
            Just(json!("screen")),
            Just(json!("group")),
            Just(json!("audiencelist")),
            Just(json!("record")),
            any_json()
        ],
        prop_oneof![Just(json!("Order Completed")), Just(json!("Product Added")), any_json()],
        any_json(),
        any_json(),
        any_json(),
        any_json(),
        any_json(),
        prop_oneof![Just(json!("2024-12-01T00:00:00.000Z")), any_json()],
    )
        .prop_map(|(ty, event, traits, props, products, ext, device, ts)| {
            let mut p = match props {
                Value::Object(m) => Value::Object(m),
                other => json!({"x": other}),
            };
            p["products"] = products;
            p["listData"] = json!({"add": [{"email": "a@b.c", "identifier": "i"}], "remove": ext.clone()});
            json!({
                "type": ty, "event": event, "userId": "u1", "anonymousId": "anon", "messageId": "m1",
                "traits": traits, "properties": p, "timestamp": ts, "name": "Home",
                "context": {"traits": {"email": "a@b.c"}, "externalId": ext, "device": device,
                            "userAgent": "ua", "ip": "1.2.3.4", "os": {"name": "android"}},
                "integrations": {"All": true}
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn every_destination_answers_whatever_it_gets(
        pick in any::<prop::sample::Index>(),
        message in any_destination_message(),
        values in prop::collection::vec(any_json(), 16),
        plausible in any::<bool>(),
    ) {
        let engines = all_engines();
        let (e, keys) = &engines[pick.index(engines.len())];
        let mut config = eventmap::value::Map::new();
        for (i, k) in keys.iter().enumerate() {
            let v = if plausible { json!("x") } else { values[i % values.len()].clone() };
            config.insert(k.as_str().into(), v);
        }
        let item = json!({"message": message, "destination": {"Config": config}, "metadata": {"jobId": 1, "secret": {"accessToken": "t"}}});
        check_text_with(e, &serde_json::to_string(&item).unwrap())?;
    }

    #[test]
    fn an_array_splits_where_serde_json_reads_its_items(
        items in prop::collection::vec(any_json(), 0..6),
        pretty in any::<bool>(),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        // Whole arrays (compact or pretty) split into exactly the items serde_json reads;
        // with one byte changed, the split items are all JSON only if the text is.
        let text = if pretty {
            serde_json::to_string_pretty(&items).unwrap()
        } else {
            serde_json::to_string(&items).unwrap()
        };
        let theirs: Vec<&serde_json::value::RawValue> = serde_json::from_str(&text).unwrap();
        let theirs: Vec<&str> = theirs.iter().map(|r| r.get()).collect();
        prop_assert_eq!(eventmap::protocol::project::split_array(&text), Some(theirs));
        let mut bytes = text.into_bytes();
        let at = cut.index(bytes.len());
        bytes[at] = byte;
        if let Ok(bad) = String::from_utf8(bytes) {
            let whole = serde_json::from_str::<Vec<&serde_json::value::RawValue>>(&bad).is_ok();
            let split = eventmap::protocol::project::split_array(&bad).is_some_and(|items| {
                items.iter().all(|i| serde_json::from_str::<&serde_json::value::RawValue>(i).is_ok())
            });
            prop_assert_eq!(split, whole, "{}", bad);
        }
    }

    #[test]
    fn a_guessed_cut_whose_pieces_are_all_json_is_the_arrays_items(
        items in prop::collection::vec(cut_prone_json(), 1..5),
        cut in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        corrupt in any::<bool>(),
    ) {
        // Items that open as `{"m":`, holding nested objects that open the same way and
        // strings that hold the opening: when every piece of the guess reads as JSON, the
        // pieces are exactly the items serde_json reads (and the body is JSON).
        let items: Vec<Value> = items
            .into_iter()
            .map(|v| {
                let mut m = eventmap::value::Map::new();
                m.insert("m".into(), v.clone());
                m.insert("n".into(), v);
                Value::Object(m)
            })
            .collect();
        let mut bytes = serde_json::to_string(&items).unwrap().into_bytes();
        if corrupt {
            let at = cut.index(bytes.len());
            bytes[at] = byte;
        }
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
        let Some(pieces) = eventmap::protocol::project::guess_items(&text) else { return Ok(()) };
        if pieces.iter().all(|p| serde_json::from_str::<&serde_json::value::RawValue>(p).is_ok()) {
            let theirs: Vec<&serde_json::value::RawValue> = serde_json::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            let theirs: Vec<&str> = theirs.iter().map(|r| r.get()).collect();
            prop_assert_eq!(pieces, theirs);
        }
    }

    #[test]
    fn text_taken_as_javascripts_own_is_json_and_what_javascript_prints(
        value in any_json(),
        cut in any::<prop::sample::Index>(),
        byte in prop::sample::select(b"\"\\{}[],:0-1.eE tfnu/\x01ax".to_vec()),
        edit in 0..4u8,
    ) {
        // Whatever text is taken as canonical (and so echoed unread) is JSON, and exactly
        // what JavaScript prints for it: serialized values, and the same with a byte
        // changed, inserted or removed.
        let mut bytes = serde_json::to_string(&value).unwrap().into_bytes();
        if !bytes.is_empty() {
            let at = cut.index(bytes.len());
            match edit {
                1 => bytes[at] = byte,
                2 => bytes.insert(at, byte),
                3 => { bytes.remove(at); }
                _ => {}
            }
        }
        let Ok(text) = String::from_utf8(bytes) else { return Ok(()) };
        if eventmap::protocol::json::is_js_canonical(&text) {
            let parsed: Value = serde_json::from_str(&text)
                .map_err(|e| TestCaseError::fail(format!("{e}: {text}")))?;
            prop_assert_eq!(eventmap::protocol::json::to_js_string(&parsed), text);
        }
    }

    #[test]
    fn a_number_spelled_as_javascript_spells_it_is_printed_unchanged(
        negative in any::<bool>(),
        int in "(0|[1-9][0-9]{0,17})",
        frac in "0{0,8}[0-9]{0,12}",
        double in any::<f64>(),
    ) {
        // What is_js_spelling lets through unread is exactly what JavaScript prints for the
        // double it reads as (the slow path: parse, then JavaScript's Number::toString):
        // written decimals of every length and the shortest spellings of arbitrary doubles.
        let written = format!("{}{int}{}{frac}", if negative { "-" } else { "" }, if frac.is_empty() { "" } else { "." });
        for literal in [written, double.to_string(), format!("{double:?}")] {
            if eventmap::eval::js::is_js_spelling(&literal) {
                let parsed: f64 = literal.parse().unwrap();
                prop_assert_eq!(eventmap::eval::js::number_to_js(parsed), literal);
            }
        }
    }

    #[test]
    fn any_json_as_a_request_item(item in any_json()) {
        check(&item)?;
    }

    #[test]
    fn any_json_as_a_message(message in any_json()) {
        check(&json!({"message": message, "destination": base_destination(), "metadata": {"jobId": 1}}))?;
    }

    #[test]
    fn wrong_types_at_every_path_the_specs_read(message in shaped_message()) {
        check(&json!({"message": message, "destination": base_destination(), "metadata": {"jobId": 1, "workspaceId": "w"}}))?;
    }

    #[test]
    fn any_json_as_a_destination_config(config in any_json(), mapping in any_json(), message in shaped_message()) {
        let mut c = config;
        if let Value::Object(m) = &mut c {
            m.insert("eventsMapping".into(), mapping);
            m.entry("bluecoreNamespace").or_insert(json!("ns"));
        }
        check(&json!({"message": message, "destination": {"Config": c}, "metadata": {"jobId": 1}}))?;
    }

    #[test]
    fn any_json_as_metadata(md in any_json(), message in shaped_message()) {
        check(&json!({"message": message, "destination": base_destination(), "metadata": md}))?;
    }

    #[test]
    fn any_text_as_an_item(text in "\\PC{0,200}") {
        check_text(&text)?;
    }
}

fn item_with(message: Value) -> Value {
    json!({"message": message, "destination": base_destination(), "metadata": {"jobId": 1}})
}

fn codes(responses: &[Value]) -> Vec<u64> {
    responses
        .iter()
        .map(|r| r["statusCode"].as_u64().unwrap())
        .collect()
}

#[test]
fn thousands_of_levels_of_nesting_fail_alone() {
    let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let message = r#"{"type": "identify", "userId": "u", "traits": {"email": "a@b.c"}}"#;
    let cases = [
        format!(
            r#"{{"message": {{"type": "identify", "traits": {deep}}}, "metadata": {{"jobId": 1}}}}"#
        ),
        format!(
            r#"{{"message": {message}, "destination": {{"Config": {deep}}}, "metadata": {{"jobId": 1}}}}"#
        ),
        format!(
            r#"{{"message": {message}, "destination": {{"Config": {{"bluecoreNamespace": "n"}}}}, "metadata": {{"x": {deep}}}}}"#
        ),
    ];
    for text in &cases {
        let r = check_text(text).unwrap();
        assert_eq!(codes(&r), [400], "{:.80}", text);
        assert!(
            r[0]["error"].as_str().unwrap().contains("deeper"),
            "{}",
            r[0]
        );
    }
    // A deep key path (one level per dot) is refused, not built.
    let key = vec!["k"; 50_000].join(".");
    let r = check(&item_with(
        json!({"type": "identify", "userId": "u", "traits": {key: 1}}),
    ))
    .unwrap();
    assert_eq!(codes(&r), [400]);
    assert!(
        r[0]["error"].as_str().unwrap().contains("limit"),
        "{}",
        r[0]
    );
    assert!(
        r[0]["error"].as_str().unwrap().len() < 500,
        "the key is abbreviated"
    );
}

#[test]
fn huge_strings_and_arrays_are_mapped() {
    let big = "é".repeat(2_000_000);
    let r = check(&item_with(
        json!({"type": "identify", "userId": "u", "traits": {"bio": big}}),
    ))
    .unwrap();
    assert_eq!(codes(&r), [200]);
    let products: Vec<Value> = (0..50_000)
        .map(|i| json!({"sku": format!("s{i}"), "price": i}))
        .collect();
    let r = check(&item_with(json!({"type": "track", "event": "Product Added", "userId": "u", "properties": {"products": products}}))).unwrap();
    assert_eq!(codes(&r), [200]);
    assert_eq!(
        r[0]["output"]["body"]["JSON"]["properties"]["products"]
            .as_array()
            .unwrap()
            .len(),
        50_000
    );
}

#[test]
fn numbers_beyond_i64_u64_f64() {
    let text = r#"{"message":{"type":"identify","userId":"u","traits":{"a":1e400,"b":-1e400,"c":123456789012345678901234567890,"d":-0,"e":1.0,"f":5e-324,"g":18446744073709551616}},"destination":{"Config":{"bluecoreNamespace":"ns"}},"metadata":{"jobId":1.0,"n":1e400}}"#;
    let r = check_text(text).unwrap();
    assert_eq!(codes(&r), [200]);
    let c = &r[0]["output"]["body"]["JSON"]["properties"]["customer"];
    assert_eq!(
        c["a"],
        Value::Null,
        "overflow prints as null, as JSON.stringify(Infinity) does"
    );
    assert_eq!(c["e"], json!(1));
    assert_eq!(r[0]["metadata"]["jobId"], json!(1));
}

#[test]
fn duplicate_keys_take_the_last_value() {
    let text = r#"{"message":{"type":"track","type":"identify","userId":"u","traits":{"email":"x@y.z"}},"destination":{"Config":{"bluecoreNamespace":"a","bluecoreNamespace":"b"}},"metadata":{"jobId":1},"metadata":{"jobId":2}}"#;
    let r = check_text(text).unwrap();
    assert_eq!(codes(&r), [200]);
    assert_eq!(r[0]["output"]["body"]["JSON"]["event"], "customer_patch");
    assert_eq!(r[0]["output"]["body"]["JSON"]["properties"]["token"], "b");
    assert_eq!(r[0]["metadata"]["jobId"], 2);
}

#[test]
fn a_fan_out_flood_is_refused() {
    let rows: Vec<Value> = (0..5_000)
        .map(|i| json!({"from": "Flood", "to": format!("e{i}")}))
        .collect();
    let item = json!({"message": {"type": "track", "event": "Flood", "userId": "u"},
                      "destination": {"Config": {"bluecoreNamespace": "ns", "eventsMapping": rows}}, "metadata": {"jobId": 1}});
    let r = check(&item).unwrap();
    assert_eq!(codes(&r), [400]);
    assert!(
        r[0]["error"].as_str().unwrap().contains("limit"),
        "{}",
        r[0]
    );
}

/// One batch remembers each destination it sees (parsed once, its config-only values
/// computed once) and keeps several: every golden item of every destination, pushed through
/// one batch per destination twice over, first in case order and then interleaved across
/// configs (more of them than the batch keeps), answers as the general path answers that
/// item on its own.
#[test]
fn a_long_batch_answers_every_item_as_it_would_alone() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings");
    let mut checked = 0;
    for (engine, _) in all_engines() {
        let dest = &engine.plan.name;
        let mut items: Vec<Value> = Vec::new();
        let Ok(cases) = std::fs::read_dir(root.join(dest).join("tests")) else {
            continue;
        };
        let mut cases: Vec<_> = cases.filter_map(|c| Some(c.ok()?.path())).collect();
        cases.sort();
        for case in cases {
            let Ok(text) = std::fs::read_to_string(case.join("input.json")) else {
                continue;
            };
            let input: Value = serde_json::from_str(&text).unwrap();
            let list = match input {
                Value::Array(a) => a,
                Value::Object(mut o) => match o.remove("input") {
                    Some(Value::Array(a)) => a,
                    _ => continue,
                },
                _ => continue,
            };
            items.extend(list.into_iter().filter(|i| i.get("message").is_some()));
        }
        let alone: Vec<Vec<Value>> = items.iter().map(|i| engine.transform(i.clone())).collect();
        // Round-robin over items: neighbours have different configs.
        let stride = 13;
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.extend((0..stride).flat_map(|s| (s..items.len()).step_by(stride)));
        let texts: Vec<String> = items.iter().map(|i| i.to_string()).collect();
        let mut batch = engine.batch();
        for &i in &order {
            let mut out = Vec::new();
            batch.push(&texts[i], &mut out);
            let got: Vec<Value> = out.iter().map(|r| r.to_value()).collect();
            assert_eq!(
                got, alone[i],
                "{dest}: item {i} answers differently in a batch"
            );
            checked += 1;
        }
    }
    assert!(checked > 500, "only {checked} items checked");
}
