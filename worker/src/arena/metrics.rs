//! `GET /metrics` data: counters every worker adds to in the arena, so one scrape of any
//! worker sees the whole server, rendered in the Prometheus text format.
//!
//! Counters are sharded by worker slot so that workers on different cores do not fight
//! over one cache line on every request; a scrape sums the shards. Shards live in the
//! application region, not in the slots, so a replaced worker continues its slot's
//! counts and every counter stays monotonic.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lightrag_supervisor::{Arena, SlotState};

/// Route groups, by first path segment.
const GROUPS: [&str; 10] = [
    "health",
    "auth",
    "documents",
    "query",
    "graph",
    "ollama",
    "docs",
    "metrics",
    "webui",
    "other",
];
const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
/// Histogram upper bounds, seconds.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

const SHARDS: usize = 64;

/// One worker slot's counters, on cache lines of its own.
#[repr(C, align(64))]
pub struct Shard {
    requests: [[AtomicU64; CLASSES.len()]; GROUPS.len()],
    /// Per-bucket (not cumulative) counts; the last one is +Inf.
    buckets: [AtomicU64; BUCKETS.len() + 1],
    duration_sum_us: AtomicU64,
}

#[repr(C)]
pub struct MetricsBlock {
    shards: [Shard; SHARDS],
}

fn group_of(path: &str) -> usize {
    let segment = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let name = match segment {
        "health" => "health",
        "login" | "auth-status" | "auth" => "auth",
        "documents" => "documents",
        "query" => "query",
        "graphs" | "graph" => "graph",
        "api" => "ollama",
        "docs" | "openapi.json" | "redoc" | "static" => "docs",
        "metrics" => "metrics",
        "webui" | "workspace" | "ui" => "webui",
        _ => "other",
    };
    GROUPS
        .iter()
        .position(|g| *g == name)
        .unwrap_or(GROUPS.len() - 1)
}

impl Shard {
    /// Counts one answered request; `path` is as routed, without the API prefix.
    pub fn record(&self, path: &str, status: u16, elapsed: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.requests[group_of(path)][class].fetch_add(1, Ordering::Relaxed);
        let secs = elapsed.as_secs_f64();
        let bucket = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        self.duration_sum_us
            .fetch_add(elapsed.as_micros() as u64, Ordering::Relaxed);
    }
}

impl MetricsBlock {
    /// The shard a worker in slot `worker` writes to.
    pub fn shard(&self, worker: usize) -> &Shard {
        &self.shards[worker % SHARDS]
    }

    fn sum(&self, counter: impl Fn(&Shard) -> &AtomicU64) -> u64 {
        self.shards
            .iter()
            .map(|s| counter(s).load(Ordering::Relaxed))
            .sum()
    }

    /// The Prometheus text exposition of these counters and the arena's worker data.
    pub fn render(&self, arena: Arena) -> String {
        let mut out = String::with_capacity(4096);
        let _ = self.write(&mut out, arena);
        out
    }

    fn write(&self, out: &mut String, arena: Arena) -> std::fmt::Result {
        describe(
            out,
            "lightrag_http_requests_total",
            "counter",
            "HTTP requests answered, by route group and status class.",
        )?;
        for (g, group) in GROUPS.iter().enumerate() {
            for (c, class) in CLASSES.iter().enumerate() {
                let n = self.sum(|s| &s.requests[g][c]);
                writeln!(
                    out,
                    "lightrag_http_requests_total{{group=\"{group}\",status=\"{class}\"}} {n}"
                )?;
            }
        }
        let live = arena.slots().iter().filter(|s| {
            matches!(
                s.state(),
                SlotState::Ready | SlotState::Retiring | SlotState::Stopping
            )
        });
        let (alive, in_flight) = live.fold((0u64, 0u64), |(a, f), s| {
            (
                a + u64::from(s.state() != SlotState::Stopping),
                f + s.in_flight(),
            )
        });
        describe(
            out,
            "lightrag_http_requests_in_flight",
            "gauge",
            "Requests being answered now, all workers.",
        )?;
        writeln!(out, "lightrag_http_requests_in_flight {in_flight}")?;
        describe(
            out,
            "lightrag_http_request_duration_seconds",
            "histogram",
            "Time to answer a request.",
        )?;
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.sum(|s| &s.buckets[i]);
            writeln!(
                out,
                "lightrag_http_request_duration_seconds_bucket{{le=\"{bound}\"}} {cumulative}"
            )?;
        }
        cumulative += self.sum(|s| &s.buckets[BUCKETS.len()]);
        writeln!(
            out,
            "lightrag_http_request_duration_seconds_bucket{{le=\"+Inf\"}} {cumulative}"
        )?;
        let sum = self.sum(|s| &s.duration_sum_us) as f64 / 1e6;
        writeln!(out, "lightrag_http_request_duration_seconds_sum {sum}")?;
        writeln!(
            out,
            "lightrag_http_request_duration_seconds_count {cumulative}"
        )?;
        describe(
            out,
            "lightrag_workers_alive",
            "gauge",
            "Workers accepting requests.",
        )?;
        writeln!(out, "lightrag_workers_alive {alive}")?;
        describe(
            out,
            "lightrag_worker_unexpected_exits_total",
            "counter",
            "Workers that died without being asked to and were replaced.",
        )?;
        writeln!(
            out,
            "lightrag_worker_unexpected_exits_total {}",
            arena.unexpected_exits()
        )?;
        describe(
            out,
            "lightrag_worker_timeouts_total",
            "counter",
            "Workers aborted by the heartbeat watchdog.",
        )?;
        writeln!(out, "lightrag_worker_timeouts_total {}", arena.timeouts())
    }
}

/// The `# HELP` and `# TYPE` lines that introduce a metric.
fn describe(out: &mut String, name: &str, kind: &str, help: &str) -> std::fmt::Result {
    writeln!(out, "# HELP {name} {help}")?;
    writeln!(out, "# TYPE {name} {kind}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_by_first_segment() {
        assert_eq!(GROUPS[group_of("/health")], "health");
        assert_eq!(GROUPS[group_of("/graph/label/list")], "graph");
        assert_eq!(GROUPS[group_of("/api/chat")], "ollama");
        assert_eq!(GROUPS[group_of("/")], "other");
        assert_eq!(GROUPS[group_of("/healthz")], "other");
    }

    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let arena = Arena::map(std::process::id() as i32).unwrap();
        let block = &crate::arena::SharedRegion::of(arena.app_region()).metrics;
        block
            .shard(0)
            .record("/health", 200, Duration::from_millis(1));
        block
            .shard(1)
            .record("/query", 503, Duration::from_secs(20));
        let text = block.render(arena);
        assert!(text.contains("lightrag_http_requests_total{group=\"health\",status=\"2xx\"} 1"));
        assert!(text.contains("lightrag_http_requests_total{group=\"query\",status=\"5xx\"} 1"));
        assert!(text.contains("lightrag_http_request_duration_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("lightrag_http_request_duration_seconds_bucket{le=\"+Inf\"} 2"));
        assert!(text.contains("lightrag_http_request_duration_seconds_count 2"));
    }
}
