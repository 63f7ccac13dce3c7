//! Reading a request item: the candidates for the raw fast path, on the same items.
//!
//! The items are `examples/bluecore-events-2kb.json` (about 2.4 KB each: full SDK context,
//! destination and metadata), and what is kept is what Bluecore's plan reads of the message
//! (its read tree), with the destination and metadata as raw text. Every candidate validates
//! the whole item (bad JSON anywhere must still be refused), except where said.
//! - `serde_value`: `serde_json::Value` of the whole item (what the floor does);
//! - `serde_projection`: eventmap's choice, one serde_json pass that builds what is read and
//!   skips the rest ([`eventmap::protocol::project::split_item`]);
//! - `sonic_iter`: sonic-rs's lazy object iterator, descending into what is read (each level
//!   is a second pass over its text), kept parts parsed by serde_json;
//! - `sonic_get_many`: sonic-rs `get_many` over a pointer tree of the read paths (checked);
//! - `sonic_value`: sonic-rs's own DOM of the whole item (no serde_json values: for scale);
//! - `simd_json_value`: simd-json's borrowed DOM of the whole item (it parses in place, so a
//!   copy of the text is part of the cost; for scale).
//!
//! Run: `cargo bench --bench parse`.

use std::path::Path;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput};
use eventmap::plan::ReadTree;
use eventmap::protocol::project::split_item;
use eventmap::{Engine, Mappings};
use serde_json::Value;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn items() -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/bluecore-events-2kb.json");
    let seeds: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    (0..200)
        .map(|i| serde_json::to_string(&seeds[i % seeds.len()]).unwrap())
        .collect()
}

/// sonic-rs's iterator, descending into the members the tree reads.
fn sonic_walk(text: &str, tree: &ReadTree) -> Value {
    if tree.whole || !text.starts_with('{') {
        return serde_json::from_str(text).unwrap();
    }
    let mut m = serde_json::Map::new();
    for entry in sonic_rs::to_object_iter(text) {
        let (key, value) = entry.unwrap();
        if let Some(child) = tree.child(&key) {
            m.insert(key.to_string(), sonic_walk(value.as_raw_str(), child));
        }
    }
    Value::Object(m)
}

fn sonic_iter(text: &str, tree: &ReadTree) -> usize {
    let mut n = 0;
    for entry in sonic_rs::to_object_iter(text) {
        let (key, value) = entry.unwrap();
        let raw = value.as_raw_str();
        match key.as_ref() {
            "message" => n += sonic_walk(raw, tree).as_object().map_or(0, |m| m.len()),
            _ => n += raw.len(),
        }
    }
    n
}

/// The read tree's leaves as pointers below `message`, and the raw members.
fn pointer_tree(tree: &ReadTree) -> sonic_rs::PointerTree {
    fn leaves(t: &ReadTree, path: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        if t.whole || t.children.is_empty() {
            out.push(path.clone());
            return;
        }
        for (k, c) in &t.children {
            // Joined segments (`a.b` as one key) are kept by the walk; pointers take keys.
            path.push(k.to_string());
            leaves(c, path, out);
            path.pop();
        }
    }
    let mut paths = Vec::new();
    leaves(tree, &mut vec!["message".to_owned()], &mut paths);
    let mut p = sonic_rs::PointerTree::new();
    for path in paths {
        p.add_path(path.iter().map(String::as_str));
    }
    for member in ["destination", "metadata", "connection"] {
        p.add_path([member].iter());
    }
    p
}

fn benches(c: &mut Criterion) {
    let mappings = Mappings::Dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("mappings"));
    let engine = Engine::load(&mappings, "bluecore").unwrap().unwrap();
    let tree = &engine.plan.message_reads;
    let items = items();
    let bytes: usize = items.iter().map(String::len).sum();
    eprintln!(
        "{} items, {} bytes per item on average",
        items.len(),
        bytes / items.len()
    );
    let pointers = pointer_tree(tree);
    let mut group = c.benchmark_group("parse");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(BenchmarkId::from_parameter("serde_value"), |b| {
        b.iter(|| {
            for t in &items {
                let v: Value = serde_json::from_str(t).unwrap();
                std::hint::black_box(v);
            }
        })
    });
    group.bench_function(BenchmarkId::from_parameter("serde_projection"), |b| {
        b.iter(|| {
            for t in &items {
                let p = split_item(t, tree).unwrap().unwrap();
                std::hint::black_box(p.message);
            }
        })
    });
    group.bench_function(BenchmarkId::from_parameter("sonic_iter"), |b| {
        b.iter(|| {
            for t in &items {
                std::hint::black_box(sonic_iter(t, tree));
            }
        })
    });
    group.bench_function(BenchmarkId::from_parameter("sonic_get_many"), |b| {
        b.iter(|| {
            for t in &items {
                let found = sonic_rs::get_many(t.as_str(), &pointers).unwrap();
                let kept: Vec<Value> = found
                    .iter()
                    .flatten()
                    .map(|v| serde_json::from_str(v.as_raw_str()).unwrap())
                    .collect();
                std::hint::black_box(kept);
            }
        })
    });
    group.bench_function(BenchmarkId::from_parameter("sonic_value"), |b| {
        b.iter(|| {
            for t in &items {
                let v: sonic_rs::Value = sonic_rs::from_str(t).unwrap();
                std::hint::black_box(v);
            }
        })
    });
    group.bench_function(BenchmarkId::from_parameter("simd_json_value"), |b| {
        b.iter(|| {
            for t in &items {
                let mut copy = t.as_bytes().to_vec();
                let v = simd_json::to_borrowed_value(&mut copy).unwrap();
                std::hint::black_box(&v);
            }
        })
    });
    group.finish();
}

fn main() {
    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    benches(&mut c);
    c.final_summary();
}
