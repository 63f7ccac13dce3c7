//! Router transform throughput next to the JSON floor, per destination.
//!
//! For each destination, a routerTransform body of 200 events is built from the events of one
//! of its own router golden cases (`mappings/<dest>/tests/<case>/input.json`, the ones it
//! answers with a 200), each given a full RudderStack SDK context (events of about 2 KB, the
//! size real SDKs send) and its own jobId. It is measured two ways in the same run:
//! - `floor`: parse the body into a `serde_json::Value` and serialize the answer the router
//!   gives, nothing else: the least any router transformer must do;
//! - `route`: what `POST /routerTransform` runs: parse, group, map, batch, write the answer.
//!
//! After the run a table gives events/s for both and the ratio route/floor (above 1: faster
//! than the floor). Run: `cargo bench --bench router`.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use eventmap::protocol::json::{Js, write_js_of};
use eventmap::{Engine, Mappings};
use serde_json::{Value, json};

// The same allocator as the binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;
use common::{mean_ns, sdk_context};

const EVENTS: usize = 200;

/// Destinations and the golden case whose events the body is made of.
const CASES: [(&str, &str); 6] = [
    ("algolia", "router_batches_of_max_size"),
    ("pinterest_tag", "router_batch"),
    ("reddit", "router_v2_batches"),
    ("smartly", "router_one_batch"),
    ("ninetailed", "router_batch"),
    ("koala", "router_one_request_per_event"),
];

/// The 200-event body: the case's events the router answers with a 200, cycled.
fn body(engine: &Engine, dest: &str, case: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("mappings")
        .join(dest)
        .join("tests")
        .join(case)
        .join("input.json");
    let golden: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let good: Vec<Value> = golden["input"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|input| {
            let alone = json!({"input": [input], "destType": dest});
            engine.route(alone).is_ok_and(|a| {
                a["output"]
                    .as_array()
                    .is_some_and(|o| o.iter().all(|e| e["statusCode"] == 200))
            })
        })
        .cloned()
        .collect();
    assert!(!good.is_empty(), "{dest}/{case}: no event the router maps");
    let input: Vec<Value> = (0..EVENTS)
        .map(|i| {
            let mut e = good[i % good.len()].clone();
            let full = sdk_context(i);
            let ctx = &mut e["message"]["context"];
            if !ctx.is_object() {
                *ctx = json!({});
            }
            for (k, v) in full.as_object().unwrap() {
                if ctx.get(k).is_none() {
                    ctx[k] = v.clone();
                }
            }
            e["message"]["messageId"] = json!(format!("msg-{i}"));
            if !e["metadata"].is_object() {
                e["metadata"] = json!({});
            }
            e["metadata"]["jobId"] = json!(i + 1);
            e
        })
        .collect();
    json!({"input": input, "destType": dest})
}

fn engine(dest: &str) -> Engine {
    let mappings = Mappings::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"));
    Engine::load(&mappings, dest)
        .expect("specs compile")
        .expect("destination specs")
}

fn benches(c: &mut Criterion) {
    for (dest, case) in CASES {
        let engine = engine(dest);
        let body = body(&engine, dest, case);
        let text = serde_json::to_vec(&body).unwrap();
        let answer = engine.route(body).unwrap();
        let entries = answer["output"].as_array().map_or(0, Vec::len);
        let mut answer_text = Vec::new();
        write_js_of(&mut answer_text, &Js(&answer)).unwrap();
        eprintln!(
            "{dest}: {EVENTS} events, {} bytes per event on average; answer {entries} entries, {} bytes",
            text.len() / EVENTS,
            answer_text.len()
        );
        let mut group = c.benchmark_group(format!("router_{dest}"));
        group.throughput(Throughput::Elements(EVENTS as u64));
        let mut out = Vec::with_capacity(1 << 20);
        group.bench_function(BenchmarkId::from_parameter("floor"), |bench| {
            bench.iter(|| {
                out.clear();
                let v: Value = serde_json::from_slice(&text).unwrap();
                std::hint::black_box(&v);
                serde_json::to_writer(&mut out, &answer).unwrap();
                std::hint::black_box(out.len())
            })
        });
        group.bench_function(BenchmarkId::from_parameter("route"), |bench| {
            bench.iter(|| {
                out.clear();
                let v: Value = serde_json::from_slice(&text).unwrap();
                let a = engine.route(v).unwrap();
                write_js_of(&mut out, &Js(&a)).unwrap();
                std::hint::black_box(out.len())
            })
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
            "\n{:<16} {:>14} {:>14} {:>8}",
            "destination", "floor ev/s", "route ev/s", "ratio"
        );
        for (dest, _) in CASES {
            let group = format!("router_{dest}");
            if let (Some(f), Some(r)) = (mean_ns(&group, "floor"), mean_ns(&group, "route")) {
                let per = |ns: f64| EVENTS as f64 / (ns / 1e9);
                println!(
                    "{dest:<16} {:>14.0} {:>14.0} {:>8.2}",
                    per(f),
                    per(r),
                    f / r
                );
            }
        }
    }
}
