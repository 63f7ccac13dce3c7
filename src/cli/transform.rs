//! Front end: `eventmap transform`. Reads a JSON array of request items (answering with a
//! JSON array) or NDJSON (answering item by item, in constant memory).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError, mpsc};

use anyhow::{Context, bail};
use eventmap::Engine;
use eventmap::mask::Secrets;
use eventmap::protocol::Response;
use eventmap::protocol::json::{WriteJs, to_js_string, write_js_of};
use eventmap::protocol::processor::Batch;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::value::RawValue;

#[derive(clap::Args)]
pub struct Args {
    /// The destination whose specs to use (case-insensitive).
    #[arg(long)]
    destination: String,
    /// The mappings folder (default: $EVENTMAP_MAPPINGS, ./mappings, or the embedded copy).
    #[arg(long)]
    mappings: Option<PathBuf>,
    /// Input file; `-` or nothing reads standard input.
    input: Option<PathBuf>,
    /// Also tell, on stderr, which spec rule wrote each payload field (or refused the item).
    #[arg(long)]
    explain: bool,
    /// Threads to map NDJSON on (default: one per core); the answers keep the input's order.
    #[arg(long)]
    threads: Option<usize>,
    #[command(flatten)]
    run: super::RunArgs,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let engine = super::load_engine(args.mappings, &args.destination, &args.run)?;
    let (reader, size): (Box<dyn Read + Send>, Option<u64>) = match &args.input {
        None => (Box::new(io::stdin()), None),
        Some(p) if p.as_os_str() == "-" => (Box::new(io::stdin()), None),
        Some(p) => {
            let f = File::open(p).with_context(|| format!("cannot open {}", p.display()))?;
            let size = f.metadata().ok().map(|m| m.len());
            (Box::new(f), size)
        }
    };
    // A progress bar for a file, when someone is watching stderr; nothing extra otherwise.
    let progress = match size {
        Some(len) if io::stderr().is_terminal() => {
            let bar = ProgressBar::new(len);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            Some(bar)
        }
        _ => None,
    };
    let reader: Box<dyn Read + Send> = match &progress {
        Some(bar) => Box::new(bar.wrap_read(reader)),
        None => reader,
    };
    let mut reader = BufReader::with_capacity(1 << 16, reader);
    let stdout = io::stdout().lock();
    let mut out = BufWriter::with_capacity(1 << 16, stdout);

    // The first non-blank byte tells the format: `[` is a JSON array, anything else NDJSON.
    let first = loop {
        let buf = reader.fill_buf()?;
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(i) => {
                let b = buf[i];
                reader.consume(i);
                break Some(b);
            }
            None if buf.is_empty() => break None,
            None => {
                let n = buf.len();
                reader.consume(n);
            }
        }
    };
    match first {
        None => bail!("no input: expected a JSON array of request items, or NDJSON"),
        Some(b'[') => {
            let mut text = String::new();
            reader
                .read_to_string(&mut text)
                .context("input is not UTF-8 text")?;
            let items: Vec<&RawValue> = serde_json::from_str(&text)
                .context("input is not a valid JSON array of request items")?;
            let mut batch = engine.batch();
            out.write_all(b"[")?;
            let mut first = true;
            let mut responses = Vec::new();
            for (n, item) in items.iter().enumerate() {
                responses.clear();
                batch.push(item.get(), &mut responses);
                if args.explain {
                    explain(&engine, n + 1, item.get(), &responses);
                }
                for resp in &responses {
                    if !first {
                        out.write_all(b",")?;
                    }
                    first = false;
                    write_js_of(&mut out, resp)?;
                }
            }
            out.write_all(b"]\n")?;
        }
        Some(_) if args.explain => {
            // NDJSON, item by item, each followed by why it answers as it does.
            let mut batch = engine.batch();
            let mut line = Vec::new();
            let mut n = 0usize;
            loop {
                line.clear();
                if reader.read_until(b'\n', &mut line)? == 0 {
                    break;
                }
                let item = line.trim_ascii();
                if item.is_empty() {
                    continue;
                }
                n += 1;
                let mut responses = Vec::with_capacity(1);
                batch.push_bytes(item, &mut responses);
                explain(&engine, n, &String::from_utf8_lossy(item), &responses);
                for resp in &responses {
                    write_js_of(&mut out, resp)?;
                    out.write_all(b"\n")?;
                }
            }
        }
        Some(_) => {
            // NDJSON: runs of lines, so memory does not grow with the input, mapped on every
            // core and written in input order. A line that is not JSON becomes a 400 item;
            // the stream goes on.
            let threads = args.threads.unwrap_or_else(|| {
                std::thread::available_parallelism().map_or(1, std::num::NonZero::get)
            });
            ndjson(&engine, &mut reader, &mut out, threads.max(1))?;
        }
    }
    out.flush()?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    Ok(())
}

/// How many bytes of whole lines make one run, the unit a thread maps at a time.
const RUN_BYTES: usize = 256 << 10;

/// Maps NDJSON from `reader` to `out` on `threads` threads. One reads runs of whole lines,
/// the workers map a run each, and this thread writes the answers in input order. At most
/// a few runs per worker are in flight, so memory stays bounded whatever the input's size.
fn ndjson<R: Read + Send>(
    engine: &Engine,
    reader: &mut BufReader<R>,
    out: &mut impl Write,
    threads: usize,
) -> anyhow::Result<()> {
    if threads == 1 {
        let mut batch = engine.batch();
        let mut answers = Vec::new();
        let mut carry = Vec::new();
        while let Some(run) = read_run(reader, &mut carry)? {
            answers.clear();
            map_run(&mut batch, &run, &mut answers);
            out.write_all(&answers)?;
        }
        return Ok(());
    }
    let (work_tx, work_rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(threads * 2);
    // Shared by the workers alone: once they have all stopped, the reader's sends fail.
    let work_rx = Arc::new(Mutex::new(work_rx));
    let (done_tx, done_rx) = mpsc::sync_channel::<(u64, Vec<u8>)>(threads * 2);
    std::thread::scope(|s| -> anyhow::Result<()> {
        for _ in 0..threads {
            let (work_rx, done_tx) = (Arc::clone(&work_rx), done_tx.clone());
            s.spawn(move || {
                let mut batch = engine.batch();
                loop {
                    let next = work_rx
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .recv();
                    let Ok((seq, run)) = next else { break };
                    let mut answers = Vec::with_capacity(run.len());
                    map_run(&mut batch, &run, &mut answers);
                    if done_tx.send((seq, answers)).is_err() {
                        break;
                    }
                }
            });
        }
        drop((work_rx, done_tx));
        let reading = s.spawn(move || -> io::Result<()> {
            let (mut seq, mut carry) = (0u64, Vec::new());
            while let Some(run) = read_run(reader, &mut carry)? {
                if work_tx.send((seq, run)).is_err() {
                    // The writer has stopped (its error is the one reported).
                    break;
                }
                seq += 1;
            }
            Ok(())
        });
        // Answers arrive in any order; each is written once those before it are.
        let mut pending = BTreeMap::new();
        let mut next = 0u64;
        let written = done_rx.iter().try_for_each(|(seq, answers)| {
            pending.insert(seq, answers);
            while let Some(answers) = pending.remove(&next) {
                out.write_all(&answers)?;
                next += 1;
            }
            io::Result::Ok(())
        });
        // On a write error the channel is dropped here, which stops the workers and the reader.
        drop(done_rx);
        let read = reading
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        written?;
        read?;
        Ok(())
    })
}

/// The next run of whole lines (about [`RUN_BYTES`]); `None` at the end of the input. The
/// bytes are read from the source straight into the run (past what `reader` holds already),
/// not copied through its buffer; the part line at the run's end is kept in `carry` for the
/// next run.
fn read_run<R: Read>(
    reader: &mut BufReader<R>,
    carry: &mut Vec<u8>,
) -> io::Result<Option<Vec<u8>>> {
    let mut run = Vec::with_capacity(RUN_BYTES + (64 << 10));
    run.append(carry);
    let held = reader.buffer().len();
    run.extend_from_slice(reader.buffer());
    reader.consume(held);
    loop {
        // Up to the run's size, then (a line longer than a run) on in smaller steps.
        let want = RUN_BYTES.saturating_sub(run.len()).max(16 << 10);
        if reader.get_mut().take(want as u64).read_to_end(&mut run)? == 0 {
            return Ok((!run.is_empty()).then_some(run));
        }
        if run.len() >= RUN_BYTES
            && let Some(i) = memchr::memrchr(b'\n', &run)
        {
            carry.extend_from_slice(&run[i + 1..]);
            run.truncate(i + 1);
            return Ok(Some(run));
        }
    }
}

/// Maps every non-blank line of a run, writing each answer on a line of its own.
fn map_run(batch: &mut Batch<'_>, run: &[u8], answers: &mut Vec<u8>) {
    let lines = memchr::memchr_iter(b'\n', run)
        .chain(std::iter::once(run.len()))
        .scan(0, |start, end| {
            let item = run[*start..end].trim_ascii();
            *start = end + 1;
            Some(item)
        })
        .filter(|item| !item.is_empty());
    batch.push_all(lines, |responses| {
        for resp in responses.iter() {
            resp.write_js(answers);
            answers.push(b'\n');
        }
        true
    });
}

/// Writes why item `n` answers as it does, from its actual responses: each response's
/// request (method, endpoint, headers) and the rule that wrote each payload field, or the
/// error text and the step and rule that refused the item. Secret config values are masked.
fn explain(engine: &Engine, n: usize, text: &str, responses: &[Response<'_>]) {
    use eventmap::protocol::processor::{Explanation, explain, prepare};
    let mut err = io::stderr().lock();
    let item: eventmap::value::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let _ = writeln!(err, "# item {n}: not JSON ({e})");
            return;
        }
    };
    let mut secrets = Secrets::default();
    if let Some(config) = item.get("destination").and_then(|d| d.get("Config")) {
        secrets.add_config(&engine.plan, config);
    }
    if let Ok(p) = prepare(&engine.plan, item.clone()) {
        // A dynamic config's secrets as resolved for this event.
        secrets.add_config(&engine.plan, &p.config);
    }
    let mask = |s: &str| secrets.mask(s).into_owned();
    let label = match item.get("metadata").and_then(|m| m.get("jobId")) {
        Some(j) => format!("# item {n} (jobId {j})"),
        None => format!("# item {n}"),
    };
    let answers: Vec<eventmap::value::Value> = responses.iter().map(Response::to_value).collect();
    let explanation = explain(&engine.plan, item, &engine.env);
    let failed = answers.iter().find(|a| a["statusCode"] != 200);
    if let Some(f) = failed {
        let error = f["error"].as_str().unwrap_or_default();
        let _ = writeln!(
            err,
            "{label}: refused ({}): {}",
            f["statusCode"],
            mask(error)
        );
        match &explanation {
            Explanation::Refused(f) => {
                let step = match &f.child {
                    Some(c) => format!("{} / {c}", f.step),
                    None => f.step.clone(),
                };
                let _ = writeln!(err, "    step: {step}");
                if let Some(rule) = &f.failure.rule {
                    let _ = writeln!(err, "    rule: {rule}");
                }
            }
            Explanation::Unreadable(_) | Explanation::Payloads(_) => {}
        }
        return;
    }
    let traces = match explanation {
        Explanation::Payloads(p) => p.into_iter().map(|(_, t)| t).collect(),
        Explanation::Refused(_) | Explanation::Unreadable(_) => Vec::new(),
    };
    let _ = writeln!(err, "{label}: {} response(s)", answers.len());
    for (i, answer) in answers.iter().enumerate() {
        let out = &answer["output"];
        let word = |k: &str| out[k].as_str().map_or_else(String::new, &mask);
        let _ = writeln!(
            err,
            "  response {}: {} {}",
            i + 1,
            word("method"),
            word("endpoint")
        );
        if let Some(h) = out["headers"].as_object() {
            for (k, v) in h {
                let v = v.as_str().map_or_else(|| to_js_string(v), str::to_owned);
                let _ = writeln!(err, "    header {k}: {}", mask(&v));
            }
        }
        let trace = traces.get(i).map_or(&[][..], Vec::as_slice);
        let width = trace.iter().map(|t| t.field.len()).max().unwrap_or(0);
        for t in trace {
            let _ = writeln!(err, "    {:<width$}  {:<7} {}", t.field, t.op, t.origin);
        }
    }
}
