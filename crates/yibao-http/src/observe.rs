//! Request ids, structured request logs and Prometheus metrics.
//!
//! Every request gets an id (the client's `x-request-id` if it is sane,
//! otherwise a new one), echoed in the response header and in error bodies,
//! and carried by every log line of the request. Metrics are counted per
//! method, route template and status class, with a latency histogram.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use crate::AppState;
use crate::error::REQUEST_ID;

/// Upper bounds of the latency buckets, in microseconds.
const BUCKETS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000, 5_000_000,
    10_000_000,
];
/// Distinct (method, route, status) series at most: unmatched paths all count
/// as one route, so a scan of random URLs cannot grow memory.
const SERIES_MAX: usize = 1024;

#[derive(Default)]
struct Series {
    count: AtomicU64,
    sum_us: AtomicU64,
    buckets: [AtomicU64; BUCKETS_US.len()],
}

#[derive(Default)]
pub struct Metrics {
    series: RwLock<HashMap<(String, String, u16), Series>>,
    /// National-interface messages by transaction code and answer (infcode
    /// 0 / -1), from receipt to the response built: every message goes to one
    /// route, so the route's histogram cannot tell a slow 2207 from a fast
    /// 1101. Bounded: codes are those the interface supports (others count
    /// as `other`).
    fsi: RwLock<HashMap<(&'static str, i8), Series>>,
}

impl Metrics {
    pub fn observe(&self, method: &str, route: &str, status: u16, micros: u64) {
        let key = (method.to_owned(), route.to_owned(), status);
        {
            let map = self.series.read().unwrap();
            if let Some(s) = map.get(&key) {
                record(s, micros);
                return;
            }
        }
        let mut map = self.series.write().unwrap();
        if map.len() >= SERIES_MAX && !map.contains_key(&key) {
            return;
        }
        record(map.entry(key).or_default(), micros);
    }

    /// Counts a national-interface message; `infno` is one of the supported
    /// codes or `other`.
    pub fn observe_fsi(&self, infno: &'static str, infcode: i8, micros: u64) {
        let key = (infno, infcode);
        if let Some(s) = self.fsi.read().unwrap().get(&key) {
            record(s, micros);
            return;
        }
        record(self.fsi.write().unwrap().entry(key).or_default(), micros);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, extra: &str) -> String {
        let mut out = String::new();
        out.push_str("# HELP yibao_http_requests_total HTTP requests by method, route and status.\n");
        out.push_str("# TYPE yibao_http_requests_total counter\n");
        let map = self.series.read().unwrap();
        let mut keys: Vec<_> = map.keys().collect();
        keys.sort();
        for k in &keys {
            let s = &map[*k];
            let _ = writeln!(
                out,
                "yibao_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{}\"}} {}",
                k.0,
                escape(&k.1),
                k.2,
                s.count.load(Ordering::Relaxed)
            );
        }
        out.push_str("# HELP yibao_http_request_duration_seconds HTTP request latency.\n");
        out.push_str("# TYPE yibao_http_request_duration_seconds histogram\n");
        for k in &keys {
            let labels = format!("method=\"{}\",route=\"{}\",status=\"{}\"", k.0, escape(&k.1), k.2);
            histogram(&mut out, "yibao_http_request_duration_seconds", &labels, &map[*k]);
        }
        drop(map);
        let fsi = self.fsi.read().unwrap();
        let mut keys: Vec<_> = fsi.keys().copied().collect();
        keys.sort();
        out.push_str("# HELP yibao_fsi_message_duration_seconds National-interface messages by infno and infcode, receipt to response.\n");
        out.push_str("# TYPE yibao_fsi_message_duration_seconds histogram\n");
        for (infno, infcode) in keys {
            let labels = format!("infno=\"{infno}\",infcode=\"{infcode}\"");
            histogram(&mut out, "yibao_fsi_message_duration_seconds", &labels, &fsi[&(infno, infcode)]);
        }
        out.push_str(extra);
        out
    }
}

fn histogram(out: &mut String, name: &str, labels: &str, s: &Series) {
    let mut cumulative = 0;
    for (i, bound) in BUCKETS_US.iter().enumerate() {
        cumulative += s.buckets[i].load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels},le=\"{}\"}} {cumulative}", *bound as f64 / 1e6);
    }
    let count = s.count.load(Ordering::Relaxed);
    let _ = writeln!(out, "{name}_bucket{{{labels},le=\"+Inf\"}} {count}");
    let _ = writeln!(out, "{name}_sum{{{labels}}} {}", s.sum_us.load(Ordering::Relaxed) as f64 / 1e6);
    let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
}

fn record(s: &Series, micros: u64) {
    s.count.fetch_add(1, Ordering::Relaxed);
    s.sum_us.fetch_add(micros, Ordering::Relaxed);
    if let Some(i) = BUCKETS_US.iter().position(|b| micros <= *b) {
        s.buckets[i].fetch_add(1, Ordering::Relaxed);
    }
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Accepts a client request id of up to 64 safe characters.
fn sane_request_id(value: &HeaderValue) -> Option<String> {
    let s = value.to_str().ok()?;
    (!s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
        .then(|| s.to_owned())
}

/// A request slower than this is logged as a warning (1 s: the national
/// platform's own average answer is ≈ 0.8 s).
const SLOW_REQUEST_MICROS: u64 = 1_000_000;

pub async fn middleware(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(sane_request_id)
        .unwrap_or_else(|| format!("{:016x}", yibao_store::ids::next_id()));
    let method = req.method().as_str().to_owned();
    let route =
        req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_else(|| "unmatched".to_owned());
    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let mut response = REQUEST_ID.scope(request_id.clone(), next.run(req).instrument(span.clone())).await;
    let micros = started.elapsed().as_micros() as u64;
    let status = response.status().as_u16();
    state.metrics.observe(&method, &route, status, micros);
    // Every request is counted in the metrics; the log names each one only
    // at debug level (`YIBAO_LOG=info,yibao_http::observe=debug`): at the
    // national interface's rates a line per request is gigabytes a day and
    // ≈ 6 % of the HTTP workers' CPU, and the message log already records
    // every business message. Failures and slow requests are always logged.
    span.in_scope(|| {
        if status >= 500 {
            tracing::error!(status, micros, "request failed");
        } else if micros >= SLOW_REQUEST_MICROS {
            tracing::warn!(status, micros, "slow request");
        } else {
            tracing::debug!(status, micros, "request");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
