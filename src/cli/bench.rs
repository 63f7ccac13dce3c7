//! Front end: `eventmap bench`. Generates a large NDJSON file of request items from seed items
//! (varying their ids), measures the floor (parse each item into a JSON value and write it back,
//! nothing else) in this process, then runs `eventmap transform` over the same file as a child
//! process, streaming, and reports events/s for both, their ratio, and the child's peak RSS.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};
use eventmap::protocol::json::write_js;
use serde_json::Value;

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
}

/// Item `i` of the generated stream: a seed with its ids made unique.
pub fn vary(seed: &Value, i: usize) -> Value {
    let mut item = seed.clone();
    if let Some(md) = item.get_mut("metadata").and_then(Value::as_object_mut) {
        md.insert("jobId".into(), Value::from(i as u64 + 1));
        md.insert("messageId".into(), Value::String(format!("msg-{i}")));
    }
    if let Some(m) = item.get_mut("message").and_then(Value::as_object_mut) {
        m.insert("messageId".into(), Value::String(format!("msg-{i}")));
        for key in ["userId", "anonymousId"] {
            if m.get(key).is_some_and(Value::is_string) {
                m.insert(key.into(), Value::String(format!("{key}-{}", i % 50_000)));
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

    // Floor: parse every item into a Value and serialize it back, nothing else.
    let t = Instant::now();
    let mut sink = BufWriter::with_capacity(1 << 16, std::io::sink());
    let mut line = String::new();
    let mut reader = BufReader::with_capacity(1 << 16, File::open(&path)?);
    let mut n = 0usize;
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let v: Value = serde_json::from_str(&line)?;
        serde_json::to_writer(&mut sink, &v)?;
        sink.write_all(b"\n")?;
        n += 1;
    }
    sink.flush()?;
    let floor_s = t.elapsed().as_secs_f64();

    // Transform: the real binary, streaming NDJSON in and out.
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(exe);
    cmd.args(["transform", "--destination", &args.destination]);
    if let Some(m) = &args.mappings {
        cmd.arg("--mappings").arg(m);
    }
    cmd.arg(&path)
        .env("EVENTMAP_REPORT_RSS", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let mut child = cmd.spawn()?;
    let mut out_items = 0usize;
    let mut out_bytes = 0usize;
    {
        let stdout = child.stdout.take().context("child stdout")?;
        let mut r = BufReader::with_capacity(1 << 16, stdout);
        let mut l = Vec::new();
        loop {
            l.clear();
            let k = r.read_until(b'\n', &mut l)?;
            if k == 0 {
                break;
            }
            out_bytes += k;
            out_items += 1;
        }
    }
    let out = child.wait_with_output()?;
    let transform_s = t.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!("transform failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("eventmap-peak-rss-kib: "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    if args.file.is_none() {
        let _ = std::fs::remove_file(&path);
    }

    let floor_eps = n as f64 / floor_s;
    let transform_eps = n as f64 / transform_s;
    println!("events:             {n}");
    println!(
        "response items:     {out_items} ({:.1} MB)",
        out_bytes as f64 / 1e6
    );
    println!(
        "floor:              {floor_eps:>12.0} events/s  (parse + serialize only, {floor_s:.2}s)"
    );
    println!(
        "transform:          {transform_eps:>12.0} events/s  (eventmap transform, NDJSON streaming, {transform_s:.2}s)"
    );
    println!("ratio to floor:     {:>12.2}", transform_eps / floor_eps);
    match rss {
        Some(kib) => println!(
            "peak RSS:           {:>12.1} MB (transform process)",
            kib as f64 / 1024.0
        ),
        None => println!("peak RSS:           unknown (no /proc on this system)"),
    }
    Ok(())
}

fn tempfile_path() -> PathBuf {
    std::env::temp_dir().join(format!("eventmap-bench-{}.ndjson", std::process::id()))
}
