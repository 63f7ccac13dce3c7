//! Front end: `eventmap bench`. Generates a large NDJSON file of request items from seed items
//! (varying their ids), then measures in rounds, alternating, the floor (parse each item into a
//! JSON value and write it back, nothing else, in this process) and `eventmap transform` over
//! the same file as a child process, streaming; reports events/s for both, the median ratio,
//! and the child's peak RSS.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use eventmap::protocol::json::write_js;
use eventmap::value::Value;

#[derive(clap::Args)]
pub struct Args {
    /// The destination to transform for.
    #[arg(long)]
    destination: String,
    /// A JSON array of request items to vary (the mix of the benchmark).
    #[arg(long)]
    seed: PathBuf,
    /// How many events to generate.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Where to write the generated NDJSON (default: a temporary file, removed after).
    #[arg(long)]
    file: Option<PathBuf>,
    #[arg(long)]
    mappings: Option<PathBuf>,
    /// How many times to measure both, alternating (the median ratio is reported).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// Item `i` of the generated stream: a seed with its ids made unique.
pub fn vary(seed: &Value, i: usize) -> Value {
    let mut item = seed.clone();
    if let Some(md) = item.get_mut("metadata").and_then(Value::as_object_mut) {
        md.insert("jobId".into(), Value::from(i as u64 + 1));
        md.insert(
            "messageId".into(),
            Value::String(compact_str::format_compact!("msg-{i}")),
        );
    }
    if let Some(m) = item.get_mut("message").and_then(Value::as_object_mut) {
        m.insert(
            "messageId".into(),
            Value::String(compact_str::format_compact!("msg-{i}")),
        );
        for key in ["userId", "anonymousId"] {
            if m.get(key).is_some_and(Value::is_string) {
                m.insert(
                    key.into(),
                    Value::String(compact_str::format_compact!("{key}-{}", i % 50_000)),
                );
            }
        }
    }
    item
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Prints this process's peak RSS to stderr (for `bench`, which runs transform as a child).
pub fn report_rss() {
    if let Some(kib) = peak_rss_kib() {
        eprintln!("eventmap-peak-rss-kib: {kib}");
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let seeds: Vec<Value> = serde_json::from_reader(BufReader::new(
        File::open(&args.seed).with_context(|| format!("cannot open {}", args.seed.display()))?,
    ))
    .context("the seed file must be a JSON array of request items")?;
    if seeds.is_empty() {
        bail!("the seed file has no items");
    }
    let tmp;
    let path = match &args.file {
        Some(p) => p.clone(),
        None => {
            tmp = tempfile_path();
            tmp.clone()
        }
    };
    let t = Instant::now();
    let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
    for i in 0..args.events {
        write_js(&mut w, &vary(&seeds[i % seeds.len()], i))?;
        w.write_all(b"\n")?;
    }
    w.flush()?;
    drop(w);
    let bytes = std::fs::metadata(&path)?.len();
    eprintln!(
        "generated {} events ({:.1} MB) from {} seeds in {:.1}s: {}",
        args.events,
        bytes as f64 / 1e6,
        seeds.len(),
        t.elapsed().as_secs_f64(),
        path.display()
    );

    // Once, untimed: the answers through a pipe, to count them and read the child's peak RSS
    // (this also brings the file into the page cache for both sides).
    let counted = transform(&args, &path, true)?;

    // Then rounds, floor and transform alternating, so a change in the machine's load falls on
    // both. Both write their output and discard it: the floor into `io::sink`, the transform
    // into the null device.
    let mut rounds = Vec::with_capacity(args.rounds.max(1));
    let mut n = 0;
    for _ in 0..args.rounds.max(1) {
        let (events, floor_s) = floor(&path)?;
        n = events;
        let transform_s = transform(&args, &path, false)?.seconds;
        rounds.push((floor_s, transform_s));
    }
    if args.file.is_none() {
        let _ = std::fs::remove_file(&path);
    }

    println!("events:             {n}");
    println!(
        "response items:     {} ({:.1} MB)",
        counted.items,
        counted.bytes as f64 / 1e6
    );
    for (i, (floor_s, transform_s)) in rounds.iter().enumerate() {
        println!(
            "round {}:            floor {:>8.0} events/s ({floor_s:.2}s), transform {:>8.0} events/s ({transform_s:.2}s), time ratio {:.2}",
            i + 1,
            n as f64 / floor_s,
            n as f64 / transform_s,
            transform_s / floor_s
        );
    }
    let mut ratios: Vec<f64> = rounds.iter().map(|(f, t)| t / f).collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    println!(
        "time ratio:         {median:>12.2} (transform time / floor time, median of the rounds)"
    );
    println!("throughput ratio:   {:>12.2}", 1.0 / median);
    match counted.rss_kib {
        Some(kib) => println!(
            "peak RSS:           {:>12.1} MB (transform process)",
            kib as f64 / 1024.0
        ),
        None => println!("peak RSS:           unknown (no /proc on this system)"),
    }
    Ok(())
}

/// The floor: parse every line into a `serde_json::Value` and serialize it back, nothing
/// else, on this thread (serde_json's own value, with the features this crate builds it with:
/// key order kept, numbers as their text; not eventmap's value, which is the engine's). Returns the number of events and the seconds taken.
fn floor(path: &Path) -> anyhow::Result<(usize, f64)> {
    let t = Instant::now();
    let mut sink = BufWriter::with_capacity(1 << 16, std::io::sink());
    let mut line = String::new();
    let mut reader = BufReader::with_capacity(1 << 16, File::open(path)?);
    let mut n = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let v: serde_json::Value = serde_json::from_str(&line)?;
        serde_json::to_writer(&mut sink, &v)?;
        sink.write_all(b"\n")?;
        n += 1;
    }
    sink.flush()?;
    Ok((n, t.elapsed().as_secs_f64()))
}

/// One run of the real binary, `eventmap transform`, streaming the file.
struct Run {
    seconds: f64,
    items: usize,
    bytes: usize,
    rss_kib: Option<u64>,
}

/// Runs `eventmap transform` over `path`; with `count`, its answers come back through a pipe
/// and are counted, else they go to the null device.
fn transform(args: &Args, path: &Path, count: bool) -> anyhow::Result<Run> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["transform", "--destination", &args.destination]);
    if let Some(m) = &args.mappings {
        cmd.arg("--mappings").arg(m);
    }
    cmd.arg(path)
        .env("EVENTMAP_REPORT_RSS", "1")
        .stdout(if count { Stdio::piped() } else { Stdio::null() })
        .stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = cmd.spawn()?;
    let (mut items, mut bytes) = (0usize, 0usize);
    if let Some(stdout) = child.stdout.take() {
        let mut r = BufReader::with_capacity(1 << 16, stdout);
        let mut l = Vec::new();
        loop {
            l.clear();
            let k = r.read_until(b'\n', &mut l)?;
            if k == 0 {
                break;
            }
            bytes += k;
            items += 1;
        }
    }
    let out = child.wait_with_output()?;
    let seconds = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("transform failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss_kib = stderr
        .lines()
        .find_map(|l| l.strip_prefix("eventmap-peak-rss-kib: "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    Ok(Run {
        seconds,
        items,
        bytes,
        rss_kib,
    })
}

fn tempfile_path() -> PathBuf {
    std::env::temp_dir().join(format!("eventmap-bench-{}.ndjson", std::process::id()))
}
