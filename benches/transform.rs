//! Transform throughput next to the JSON floor, per kind of Bluecore event.
//!
//! For each case, a batch of 200 request items (generated here) is measured two ways in the
//! same run:
//! - `floor`: parse every item into a `serde_json::Value` and serialize the same response
//!   items the transform produces, nothing else: the least any transformer must do;
//! - `transform`: eventmap's raw fast path (what the CLI and the server run), writing the
//!   response items.
//!
//! After the run a table gives events/s per core for both and the ratio transform/floor.
//! Run: `cargo bench --bench transform`.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use eventmap::{Engine, Mappings};
use serde_json::{Value, json};

// The same allocator as the binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;
use common::{floor_items, mean_ns, transform_items};

const BATCH: usize = 200;

fn destination(mapping: Value) -> Value {
    json!({
        "ID": "2Bcdest0001", "Name": "Bluecore dev",
        "DestinationDefinition": {"ID": "2Bluecoredef", "Name": "BLUECORE", "DisplayName": "Bluecore", "Config": {}},
        "Config": {"bluecoreNamespace": "dummy_sandbox", "eventsMapping": mapping},
        "Enabled": true, "WorkspaceID": "ws-1", "Transformations": [], "IsProcessorEnabled": true, "RevisionID": "rev-1"
    })
}

fn metadata(i: usize, event: &str, ty: &str) -> Value {
    json!({
        "sourceId": "src-1", "workspaceId": "ws-1", "namespace": "", "instanceId": "1", "sourceType": "Javascript",
        "sourceCategory": "", "destinationId": "2Bcdest0001", "jobId": i + 1, "messageId": format!("m-{i}"),
        "destinationType": "BLUECORE", "rudderId": format!("r-{i}"), "receivedAt": "2024-05-01T07:17:07.816Z",
        "eventName": event, "eventType": ty, "sourceDefinitionId": "srcdef-1", "destinationDefinitionId": "2Bluecoredef"
    })
}

fn context(i: usize) -> Value {
    json!({
        "app": {"name": "RudderLabs JavaScript SDK", "build": "1.0.0", "namespace": "com.shop", "version": "3.4.5"},
        "device": {"id": format!("dev-{i}"), "manufacturer": "Apple", "model": "iPhone15,2", "type": "ios"},
        "library": {"name": "rudder-sdk-js", "version": "3.0.0"}, "locale": "en-US",
        "os": {"name": "iOS", "version": "17.1"}, "ip": "10.0.0.1",
        "page": {"path": "/p/1", "url": "https://shop.example.com/p/1", "title": "Product", "referrer": "$direct"},
        "traits": {"firstName": "Ada", "lastName": "Lovelace", "email": format!("ada.{i}@example.com"), "gender": "female",
                   "address": {"city": "London", "country": "GB"}, "loyalty": "gold", "age": 36}
    })
}

fn message(i: usize, ty: &str, event: Option<&str>, properties: Value) -> Value {
    let mut m = json!({
        "type": ty, "messageId": format!("m-{i}"), "channel": "web",
        "originalTimestamp": "2024-05-01T07:17:07.816Z", "sentAt": "2024-05-01T07:17:07.816Z",
        "receivedAt": "2024-05-01T07:17:07.816Z", "rudderId": format!("r-{i}"),
        "userId": format!("user-{i}"), "anonymousId": format!("anon-{i}"), "context": context(i),
        "integrations": {"All": true}
    });
    if let Some(e) = event {
        m["event"] = json!(e);
    }
    if ty == "identify" {
        m["traits"] = json!({"email": format!("ada.{i}@example.com"), "plan": "pro", "phone": "+44 20 7946 0000"});
    } else {
        m["properties"] = properties;
    }
    m
}

fn item(i: usize, kind: &str) -> Value {
    let (msg, mapping) = match kind {
        "identify" => (message(i, "identify", None, json!({})), json!([])),
        "ecommerce" => (
            message(
                i,
                "track",
                Some("Order Completed"),
                json!({
                    "order_id": format!("o-{i}"), "total": 129.5, "currency": "EUR", "coupon": "SPRING",
                    "products": [
                        {"product_id": "p-1", "sku": "s-1", "name": "Lamp", "price": 49.5, "quantity": 1, "category": "Home"},
                        {"sku": "s-2", "name": "Bulb", "price": 10, "quantity": 8, "category": "Home"},
                        {"id": "i-3", "name": "Cable", "price": 0, "quantity": 1}
                    ]
                }),
            ),
            json!([]),
        ),
        "custom" => (
            message(
                i,
                "track",
                Some("Checkout Started"),
                json!({"product_id": "p-1", "price": 49.5, "step": 2}),
            ),
            json!([{"from": "Checkout Started", "to": "add_to_cart"}, {"from": "Checkout Started", "to": "wishlist"}]),
        ),
        "subscription" => (
            message(
                i,
                "track",
                Some("subscription_event"),
                json!({"channelConsents": {"email": i.is_multiple_of(2)}, "list": "news", "source": "footer"}),
            ),
            json!([]),
        ),
        other => unreachable!("unknown case {other}"),
    };
    let ty = msg["type"].as_str().unwrap_or_default().to_owned();
    let event = msg
        .get("event")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    json!({"message": msg, "destination": destination(mapping), "metadata": metadata(i, &event, &ty)})
}

fn batch(kind: &str) -> Vec<String> {
    const MIX: [&str; 10] = [
        "identify",
        "ecommerce",
        "custom",
        "ecommerce",
        "subscription",
        "identify",
        "ecommerce",
        "custom",
        "identify",
        "ecommerce",
    ];
    (0..BATCH)
        .map(|i| {
            let k = if kind == "mixed" {
                MIX[i % MIX.len()]
            } else {
                kind
            };
            serde_json::to_string(&item(i, k)).unwrap()
        })
        .collect()
}

const CASES: [&str; 5] = ["identify", "ecommerce", "custom", "subscription", "mixed"];

fn engine() -> Engine {
    let mappings = Mappings::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"));
    Engine::load(&mappings, "bluecore")
        .expect("specs compile")
        .expect("bluecore specs")
}

fn benches(c: &mut Criterion) {
    let engine = engine();
    for case in CASES {
        let items = batch(case);
        // The responses the transform gives, as values: what the floor serializes.
        let mut b = engine.batch();
        let mut resp = Vec::new();
        for t in &items {
            b.push(t, &mut resp);
        }
        let responses: Vec<Value> = resp
            .iter()
            .map(|r| serde_json::Value::from(r.to_value()))
            .collect();
        assert!(
            responses.iter().all(|r| r["statusCode"] == 200),
            "{case}: every event maps"
        );

        let bytes: usize = items.iter().map(String::len).sum();
        eprintln!(
            "{case}: {BATCH} items, {} bytes per item on average",
            bytes / BATCH
        );
        let mut group = c.benchmark_group(case);
        group.throughput(Throughput::Elements(BATCH as u64));
        let mut out = Vec::with_capacity(1 << 20);
        group.bench_function(BenchmarkId::from_parameter("floor"), |bench| {
            bench.iter(|| std::hint::black_box(floor_items(&items, &responses, &mut out)))
        });
        group.bench_function(BenchmarkId::from_parameter("transform"), |bench| {
            bench.iter(|| std::hint::black_box(transform_items(&engine, &items, &mut out)))
        });
        group.finish();
    }
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    benches(&mut c);
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        println!(
            "\n{:<14} {:>16} {:>16} {:>8}",
            "case", "floor ev/s", "transform ev/s", "ratio"
        );
        for case in CASES {
            if let (Some(f), Some(t)) = (mean_ns(case, "floor"), mean_ns(case, "transform")) {
                let per = |ns: f64| BATCH as f64 / (ns / 1e9);
                println!(
                    "{case:<14} {:>16.0} {:>16.0} {:>8.2}",
                    per(f),
                    per(t),
                    f / t
                );
            }
        }
    }
}
