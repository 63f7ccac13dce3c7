//! Every destination under `mappings/`, next to its JSON floor, with inputs from its own
//! golden cases.
//!
//! For each destination, the request items of its processor golden cases that it answers with
//! a 200 are given a full RudderStack SDK context (keys the event has are kept), which makes
//! them about 2 KB, the size real SDKs send; 200 of them, cycled, with their own jobIds, and
//! grouped by destination (as rudder-server sends a destination's events together), are
//! measured two ways in the same run:
//! - `floor`: parse every item into a `serde_json::Value` and serialize the response items the
//!   transform gives, nothing else: the least any transformer must do;
//! - `transform`: eventmap's raw fast path (what the CLI and the server run), writing the
//!   response items.
//!
//! A destination whose golden cases are all router bodies (reverse ETL destinations, say) is
//! measured the same way through the router: `floor` parses the body and serializes the
//! answer, `transform` is `POST /routerTransform`'s work.
//!
//! After the run a table gives, per destination, the event size, events/s for both, the
//! ratio of criterion's means (throughput; above 1: faster than the floor) and the paired
//! ratio: both timed in 21 rounds of short alternating turns, the median (see `paired`), which
//! a change in the machine's load moves far less.
//! Run: `cargo bench --bench destinations` (a destination's name as a filter runs just it).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use eventmap::protocol::json::{Js, write_js_of};
use eventmap::{Engine, Mappings};
use serde_json::{Value, json};

// The same allocator as the binary, so the figures are the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod common;
use common::{floor_items, mean_ns, sdk_context, transform_items};

const EVENTS: usize = 200;

fn mappings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings")
}

/// An event of a golden case made full size: the SDK context filled in, its own ids.
fn full_size(event: &Value, i: usize) -> Value {
    let mut e = event.clone();
    if !e["message"].is_object() {
        return e;
    }
    let full = sdk_context(i);
    let ctx = &mut e["message"]["context"];
    if !ctx.is_object() {
        *ctx = json!({});
    }
    for (k, v) in full.as_object().into_iter().flatten() {
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
}

/// The golden cases of a destination: processor items and router bodies' inputs.
fn golden_inputs(dest: &str) -> (Vec<Value>, Vec<Value>) {
    let (mut items, mut routed) = (Vec::new(), Vec::new());
    let Ok(cases) = std::fs::read_dir(mappings_dir().join(dest).join("tests")) else {
        return (items, routed);
    };
    let mut cases: Vec<PathBuf> = cases.filter_map(|e| Some(e.ok()?.path())).collect();
    cases.sort();
    for case in cases {
        let Ok(text) = std::fs::read_to_string(case.join("input.json")) else {
            continue;
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(Value::Array(a)) => items.extend(a),
            Ok(Value::Object(mut body)) => {
                if let Some(Value::Array(a)) = body.remove("input") {
                    routed.extend(a);
                }
            }
            _ => {}
        }
    }
    (items, routed)
}

/// What one destination is measured on.
enum Load {
    /// Processor request items, as text.
    Items(Vec<String>),
    /// One routerTransform body.
    Body(Value),
}

fn load(engine: &Engine, dest: &str) -> Option<Load> {
    let (items, routed) = golden_inputs(dest);
    let ok = |r: &eventmap::value::Value| r["statusCode"] == 200;
    let good: Vec<&Value> = items
        .iter()
        .filter(|i| {
            let r = engine.transform((*i).clone());
            !r.is_empty() && r.iter().all(ok)
        })
        .collect();
    if !good.is_empty() {
        let mut events: Vec<Value> = (0..EVENTS)
            .map(|i| full_size(good[i % good.len()], i))
            .filter(|e| engine.transform(e.clone()).iter().all(ok))
            .collect();
        // A destination's events come together, as rudder-server sends them (a body holds
        // the events of a few destinations, not a different config per event).
        events.sort_by_cached_key(|e| e["destination"].to_string());
        let texts = events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect::<Vec<_>>();
        return (!texts.is_empty()).then_some(Load::Items(texts));
    }
    let good: Vec<&Value> = routed
        .iter()
        .filter(|input| {
            let alone = json!({"input": [input], "destType": dest});
            engine.route(alone).is_ok_and(|a| {
                a["output"]
                    .as_array()
                    .is_some_and(|o| !o.is_empty() && o.iter().all(ok))
            })
        })
        .collect();
    if good.is_empty() {
        return None;
    }
    let input: Vec<Value> = (0..EVENTS)
        .map(|i| full_size(good[i % good.len()], i))
        .collect();
    Some(Load::Body(json!({"input": input, "destType": dest})))
}

fn destinations() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(mappings_dir())
        .unwrap()
        .filter_map(|e| {
            let e = e.ok()?;
            e.path()
                .join("destination.yaml")
                .exists()
                .then(|| e.file_name().to_string_lossy().into_owned())
        })
        .collect();
    names.sort();
    names
}

/// Event size and kind of each destination measured, for the table.
struct Measured {
    dest: String,
    kind: &'static str,
    events: usize,
    bytes_per_event: usize,
    /// See [`paired`].
    paired: f64,
}

/// The floor and the transform timed in turns, many short turns each, so that a change in
/// the machine's load falls on both alike (criterion measures one for seconds, then the
/// other): the median over the rounds of floor time / transform time, the throughput ratio.
fn paired<A, B>(mut floor: impl FnMut() -> A, mut transform: impl FnMut() -> B) -> f64 {
    const ROUNDS: usize = 21;
    let t = Instant::now();
    floor();
    // About 20 ms of the floor per turn.
    let per_turn = (0.02 / t.elapsed().as_secs_f64().max(1e-6)).clamp(1.0, 1000.0) as usize;
    let mut ratios: Vec<f64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_turn {
                floor();
            }
            let f = t.elapsed().as_secs_f64();
            let t = Instant::now();
            for _ in 0..per_turn {
                transform();
            }
            f / t.elapsed().as_secs_f64().max(1e-9)
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[ROUNDS / 2]
}

fn benches(c: &mut Criterion, filter: Option<&str>) -> Vec<Measured> {
    let mappings = Mappings::Dir(mappings_dir());
    let mut measured = Vec::new();
    for dest in destinations() {
        if filter.is_some_and(|f| !dest.contains(f)) {
            continue;
        }
        let engine = Engine::load(&mappings, &dest)
            .expect("specs compile")
            .expect("destination specs");
        let Some(load) = load(&engine, &dest) else {
            eprintln!("{dest}: no golden event it answers with a 200; not measured");
            continue;
        };
        let mut group = c.benchmark_group(&dest);
        let mut out = Vec::with_capacity(1 << 20);
        match load {
            Load::Items(items) => {
                let bytes: usize = items.iter().map(String::len).sum();
                let n = items.len();
                group.throughput(Throughput::Elements(n as u64));
                let mut b = engine.batch();
                let mut resp = Vec::new();
                for t in &items {
                    b.push(t, &mut resp);
                }
                let responses: Vec<Value> =
                    resp.iter().map(|r| Value::from(r.to_value())).collect();
                let mut out2 = Vec::with_capacity(1 << 20);
                let mut floor = || std::hint::black_box(floor_items(&items, &responses, &mut out));
                let mut transform =
                    || std::hint::black_box(transform_items(&engine, &items, &mut out2));
                group.bench_function(BenchmarkId::from_parameter("floor"), |bench| {
                    bench.iter(&mut floor)
                });
                group.bench_function(BenchmarkId::from_parameter("transform"), |bench| {
                    bench.iter(&mut transform)
                });
                measured.push(Measured {
                    dest: dest.clone(),
                    kind: "processor",
                    events: n,
                    bytes_per_event: bytes / n,
                    paired: paired(&mut floor, &mut transform),
                });
            }
            Load::Body(body) => {
                group.throughput(Throughput::Elements(EVENTS as u64));
                let text = serde_json::to_vec(&body).unwrap();
                let answer = engine.route(body).unwrap();
                let mut out2 = Vec::with_capacity(1 << 20);
                let mut floor = || {
                    out.clear();
                    let v: Value = serde_json::from_slice(&text).unwrap();
                    std::hint::black_box(&v);
                    serde_json::to_writer(&mut out, &answer).unwrap();
                    std::hint::black_box(out.len())
                };
                let mut transform = || {
                    out2.clear();
                    let v: Value = serde_json::from_slice(&text).unwrap();
                    let a = engine.route(v).unwrap();
                    write_js_of(&mut out2, &Js(&a)).unwrap();
                    std::hint::black_box(out2.len())
                };
                group.bench_function(BenchmarkId::from_parameter("floor"), |bench| {
                    bench.iter(&mut floor)
                });
                group.bench_function(BenchmarkId::from_parameter("transform"), |bench| {
                    bench.iter(&mut transform)
                });
                measured.push(Measured {
                    dest: dest.clone(),
                    kind: "router",
                    events: EVENTS,
                    bytes_per_event: text.len() / EVENTS,
                    paired: paired(&mut floor, &mut transform),
                });
            }
        }
        group.finish();
    }
    measured
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let mut c = Criterion::default()
        .configure_from_args()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    let measured = benches(&mut c, filter.as_deref());
    c.final_summary();
    if std::env::args().any(|a| a == "--bench") {
        println!(
            "\n{:<38} {:<9} {:>7} {:>12} {:>12} {:>6} {:>7}",
            "destination", "path", "B/event", "floor ev/s", "eventmap", "ratio", "paired"
        );
        for m in &measured {
            if let (Some(f), Some(t)) = (mean_ns(&m.dest, "floor"), mean_ns(&m.dest, "transform")) {
                let per = |ns: f64| m.events as f64 / (ns / 1e9);
                println!(
                    "{:<38} {:<9} {:>7} {:>12.0} {:>12.0} {:>6.2} {:>7.2}",
                    m.dest,
                    m.kind,
                    m.bytes_per_event,
                    per(f),
                    per(t),
                    f / t,
                    m.paired
                );
            }
        }
    }
}
