//! Front end (server): Prometheus metrics, kept by hand: requests and events by destination
//! and status code, request latency histograms, reloads. Labels are destination names the
//! server has specs for (others count as `other`), so no request can grow the label set.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    requests: BTreeMap<(String, u16), u64>,
    events: BTreeMap<(String, u16), u64>,
    latency: BTreeMap<String, Histogram>,
    reloads: u64,
    reload_failures: u64,
    /// Requests refused as a whole, by HTTP status.
    rejected: BTreeMap<u16, u64>,
    /// Requests handed to the upstream, by the status answered.
    forwarded: BTreeMap<u16, u64>,
    forward_latency: Histogram,
    /// Connections closed for a slow or idle client.
    slow_closed: u64,
}

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One request: its destination label, HTTP status, response items by status, duration.
    pub fn request(&self, destination: &str, status: u16, items: &[(u16, u64)], took: Duration) {
        let mut m = self.lock();
        *m.requests
            .entry((destination.to_owned(), status))
            .or_default() += 1;
        for (code, n) in items {
            *m.events.entry((destination.to_owned(), *code)).or_default() += n;
        }
        let h = m.latency.entry(destination.to_owned()).or_default();
        let s = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += s;
    }

    /// A request refused as a whole (bad name, unknown path, too large, busy, too slow, ...).
    pub fn rejected(&self, status: u16) {
        *self.lock().rejected.entry(status).or_default() += 1;
    }

    /// A request handed to the upstream, and the status it was answered with.
    pub fn forwarded(&self, status: u16, took: Duration) {
        let mut m = self.lock();
        *m.forwarded.entry(status).or_default() += 1;
        let s = took.as_secs_f64();
        for (i, b) in BUCKETS.iter().enumerate() {
            if s <= *b {
                m.forward_latency.counts[i] += 1;
            }
        }
        m.forward_latency.count += 1;
        m.forward_latency.sum += s;
    }

    /// A connection closed because its client was too slow or idle.
    pub fn slow_client(&self) {
        self.lock().slow_closed += 1;
    }

    pub fn reloaded(&self, ok: bool) {
        let mut m = self.lock();
        if ok {
            m.reloads += 1;
        } else {
            m.reload_failures += 1;
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let m = self.lock();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP eventmap_requests_total Transform requests by destination and HTTP status."
        );
        let _ = writeln!(out, "# TYPE eventmap_requests_total counter");
        for ((d, c), n) in &m.requests {
            let _ = writeln!(
                out,
                "eventmap_requests_total{{destination=\"{d}\",code=\"{c}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP eventmap_events_total Response items by destination and statusCode."
        );
        let _ = writeln!(out, "# TYPE eventmap_events_total counter");
        for ((d, c), n) in &m.events {
            let _ = writeln!(
                out,
                "eventmap_events_total{{destination=\"{d}\",status_code=\"{c}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP eventmap_request_duration_seconds Transform request latency."
        );
        let _ = writeln!(out, "# TYPE eventmap_request_duration_seconds histogram");
        for (d, h) in &m.latency {
            for (i, b) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "eventmap_request_duration_seconds_bucket{{destination=\"{d}\",le=\"{b}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "eventmap_request_duration_seconds_bucket{{destination=\"{d}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "eventmap_request_duration_seconds_sum{{destination=\"{d}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "eventmap_request_duration_seconds_count{{destination=\"{d}\"}} {}",
                h.count
            );
        }
        let _ = writeln!(
            out,
            "# HELP eventmap_reloads_total Spec reloads swapped in."
        );
        let _ = writeln!(out, "# TYPE eventmap_reloads_total counter");
        let _ = writeln!(out, "eventmap_reloads_total {}", m.reloads);
        let _ = writeln!(
            out,
            "# HELP eventmap_reload_failures_total Spec reloads refused (invalid specs)."
        );
        let _ = writeln!(out, "# TYPE eventmap_reload_failures_total counter");
        let _ = writeln!(out, "eventmap_reload_failures_total {}", m.reload_failures);
        let _ = writeln!(
            out,
            "# HELP eventmap_rejected_requests_total Requests refused as a whole, by HTTP status."
        );
        let _ = writeln!(out, "# TYPE eventmap_rejected_requests_total counter");
        for (c, n) in &m.rejected {
            let _ = writeln!(out, "eventmap_rejected_requests_total{{code=\"{c}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP eventmap_upstream_requests_total Requests forwarded to the upstream, by the status answered (502 and 504: the upstream failed)."
        );
        let _ = writeln!(out, "# TYPE eventmap_upstream_requests_total counter");
        for (c, n) in &m.forwarded {
            let _ = writeln!(out, "eventmap_upstream_requests_total{{code=\"{c}\"}} {n}");
        }
        let h = &m.forward_latency;
        let _ = writeln!(
            out,
            "# HELP eventmap_upstream_duration_seconds Forwarded request latency."
        );
        let _ = writeln!(out, "# TYPE eventmap_upstream_duration_seconds histogram");
        for (i, b) in BUCKETS.iter().enumerate() {
            let _ = writeln!(
                out,
                "eventmap_upstream_duration_seconds_bucket{{le=\"{b}\"}} {}",
                h.counts[i]
            );
        }
        let _ = writeln!(
            out,
            "eventmap_upstream_duration_seconds_bucket{{le=\"+Inf\"}} {}",
            h.count
        );
        let _ = writeln!(out, "eventmap_upstream_duration_seconds_sum {}", h.sum);
        let _ = writeln!(out, "eventmap_upstream_duration_seconds_count {}", h.count);
        let _ = writeln!(
            out,
            "# HELP eventmap_slow_clients_closed_total Connections closed for a client too slow to send its request or idle too long."
        );
        let _ = writeln!(out, "# TYPE eventmap_slow_clients_closed_total counter");
        let _ = writeln!(out, "eventmap_slow_clients_closed_total {}", m.slow_closed);
        out
    }
}
