//! Front end: `eventmap loadtest`. Starts `eventmap serve` on a free loopback port (or uses
//! `--url`), sends batches of request items made from seed items over a few concurrent
//! connections for a while, and reports events/s, request latency (p50/p99/max) and the
//! server's peak RSS (from its /health). Client and server share the machine.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use eventmap::value::Value;

use super::bench::vary;

#[derive(clap::Args)]
pub struct Args {
    /// A JSON array of request items to vary into batches.
    #[arg(long)]
    seed: PathBuf,
    /// The destination to post to.
    #[arg(long)]
    destination: String,
    /// Items per request.
    #[arg(long, default_value_t = 200)]
    batch: usize,
    /// Concurrent connections.
    #[arg(long, default_value_t = 4)]
    connections: usize,
    /// How long to send for.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// A running server's base URL (default: start one).
    #[arg(long)]
    url: Option<String>,
    #[arg(long)]
    mappings: Option<PathBuf>,
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.0.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let _ = self.0.wait();
    }
}

fn start_server(mappings: Option<&PathBuf>) -> anyhow::Result<(Server, String)> {
    let mut cmd = Command::new(std::env::current_exe()?);
    cmd.args(["serve", "--listen", "127.0.0.1:0"]);
    if let Some(m) = mappings {
        cmd.arg("--mappings").arg(m);
    }
    cmd.env("EVENTMAP_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = cmd.spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().context("server stdout")?).read_line(&mut line)?;
    let Some(base) = line.trim().strip_prefix("eventmap listening on ") else {
        bail!("the server did not start: {line}");
    };
    Ok((Server(child), base.to_owned()))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let seeds: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&args.seed)?)
        .context("seed must be a JSON array")?;
    if seeds.is_empty() || args.batch == 0 || args.connections == 0 {
        bail!("need seeds, a batch size and connections");
    }
    // Shared, not copied per request (a 200-item body is about half a megabyte).
    let bodies: Vec<bytes::Bytes> = (0..8)
        .map(|b| {
            let items: Vec<Value> = (0..args.batch)
                .map(|i| {
                    let n = b * args.batch + i;
                    vary(&seeds[n % seeds.len()], n)
                })
                .collect();
            serde_json::to_vec(&items).map(bytes::Bytes::from)
        })
        .collect::<Result<_, _>>()?;
    let (server, base) = match &args.url {
        Some(u) => (None, u.trim_end_matches('/').to_owned()),
        None => {
            let (s, b) = start_server(args.mappings.as_ref())?;
            (Some(s), b)
        }
    };
    let url = format!("{base}/v0/destinations/{}", args.destination);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (latencies, events, failures, elapsed) = runtime.block_on(async {
        let client = reqwest::Client::new();
        // Warm up: one request per connection.
        for b in bodies.iter().take(args.connections) {
            let _ = client
                .post(&url)
                .header("content-type", "application/json")
                .body(b.clone())
                .send()
                .await;
        }
        let deadline = Instant::now() + Duration::from_secs(args.seconds);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for c in 0..args.connections {
            let client = client.clone();
            let url = url.clone();
            let bodies = bodies.clone();
            let batch = args.batch as u64;
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let (mut events, mut failures) = (0u64, 0u64);
                let mut k = c;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let ok = match client
                        .post(&url)
                        // As rudder-server sends it (the reference refuses a body without it).
                        .header("content-type", "application/json")
                        .body(bodies[k % bodies.len()].clone())
                        .send()
                        .await
                    {
                        Ok(r) if r.status().is_success() => r.bytes().await.is_ok(),
                        _ => false,
                    };
                    lat.push(t.elapsed());
                    if ok {
                        events += batch;
                    } else {
                        failures += 1;
                    }
                    k += 1;
                }
                (lat, events, failures)
            }));
        }
        let mut all = Vec::new();
        let (mut events, mut failures) = (0, 0);
        for t in tasks {
            if let Ok((l, e, f)) = t.await {
                all.extend(l);
                events += e;
                failures += f;
            }
        }
        (all, events, failures, started.elapsed())
    });
    let health: Value = runtime
        .block_on(async {
            let r = reqwest::Client::new()
                .get(format!("{base}/health"))
                .send()
                .await
                .ok()?;
            serde_json::from_str(&r.text().await.ok()?).ok()
        })
        .unwrap_or(Value::Null);
    drop(server);
    let mut sorted = latencies;
    sorted.sort();
    let secs = elapsed.as_secs_f64();
    println!(
        "requests:        {} ({} failed), {} items each, {} connections, {secs:.1}s",
        sorted.len(),
        failures,
        args.batch,
        args.connections
    );
    println!(
        "throughput:      {:>10.0} events/s  ({:.0} requests/s)",
        events as f64 / secs,
        sorted.len() as f64 / secs
    );
    println!(
        "latency p50:     {:>10.2} ms",
        percentile(&sorted, 0.50).as_secs_f64() * 1e3
    );
    println!(
        "latency p99:     {:>10.2} ms",
        percentile(&sorted, 0.99).as_secs_f64() * 1e3
    );
    println!(
        "latency max:     {:>10.2} ms",
        sorted.last().copied().unwrap_or_default().as_secs_f64() * 1e3
    );
    match health["peak_rss_bytes"].as_u64() {
        Some(b) => println!("server peak RSS: {:>10.1} MB", b as f64 / 1048576.0),
        None => println!("server peak RSS: unknown"),
    }
    if failures > 0 {
        bail!("{failures} requests failed");
    }
    Ok(())
}
