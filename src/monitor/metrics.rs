//! Prometheus counters of the running monitor (since it started): probes by path and
//! outcome, the latency histogram of probes that relayed, rounds and void rounds, and
//! the round duration.

use super::outcome::ALL;
use super::probe::ProbePath;
use super::store::RoundRecord;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Upper bounds (seconds) of the latency histogram.
const LATENCY_BUCKETS: [f64; 10] = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Upper bounds (seconds) of the round duration histogram.
const ROUND_BUCKETS: [f64; 8] = [1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0];

#[derive(Debug, Default, Clone)]
struct Histogram {
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, bounds: &[f64], v: f64) {
        if self.counts.len() != bounds.len() {
            self.counts = vec![0; bounds.len()];
        }
        for (c, b) in self.counts.iter_mut().zip(bounds) {
            if v <= *b {
                *c += 1;
            }
        }
        self.sum += v;
        self.count += 1;
    }

    fn render(&self, out: &mut String, name: &str, bounds: &[f64]) {
        for (i, b) in bounds.iter().enumerate() {
            let c = self.counts.get(i).copied().unwrap_or(0);
            let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {c}");
        }
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", self.count);
        let _ = writeln!(out, "{name}_sum {}", self.sum);
        let _ = writeln!(out, "{name}_count {}", self.count);
    }
}

#[derive(Debug, Default)]
pub struct Metrics {
    /// Indexed by path code, then outcome code.
    probes: [[u64; ALL.len()]; 2],
    latency: Histogram,
    round_duration: Histogram,
    rounds: u64,
    void_rounds: u64,
    last_round_nodes: u64,
    last_round_relayed: u64,
    last_round_seconds: f64,
}

pub type SharedMetrics = Arc<Mutex<Metrics>>;

impl Metrics {
    pub fn record_round(&mut self, round: &RoundRecord, took: Duration) {
        self.rounds += 1;
        if round.void_reason.is_some() {
            self.void_rounds += 1;
        }
        let (mut nodes, mut relayed) = (0, 0);
        for p in &round.probes {
            let path = usize::from(p.path == ProbePath::Http);
            if let Some(c) = self
                .probes
                .get_mut(path)
                .and_then(|row| row.get_mut(p.outcome.code() as usize))
            {
                *c += 1;
            }
            if p.path == ProbePath::Socks {
                nodes += 1;
                relayed += u64::from(p.outcome.relayed());
            }
            if let Some(l) = p.latency {
                self.latency.observe(&LATENCY_BUCKETS, l.as_secs_f64());
            }
        }
        self.last_round_nodes = nodes;
        self.last_round_relayed = relayed;
        self.last_round_seconds = took.as_secs_f64();
        self.round_duration
            .observe(&ROUND_BUCKETS, took.as_secs_f64());
    }

    pub fn render(&self) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP aqueduct_monitor_probes_total Probes finished, by path and outcome.\n",
        );
        out.push_str("# TYPE aqueduct_monitor_probes_total counter\n");
        for path in [ProbePath::Socks, ProbePath::Http] {
            for o in ALL {
                let n = self
                    .probes
                    .get(usize::from(path == ProbePath::Http))
                    .and_then(|row| row.get(o.code() as usize))
                    .copied()
                    .unwrap_or(0);
                let _ = writeln!(
                    out,
                    "aqueduct_monitor_probes_total{{path=\"{}\",outcome=\"{}\"}} {n}",
                    path.as_str(),
                    o.as_str()
                );
            }
        }
        out.push_str("# HELP aqueduct_monitor_probe_latency_seconds Time from a probe's start to the echo answer through the node.\n");
        out.push_str("# TYPE aqueduct_monitor_probe_latency_seconds histogram\n");
        self.latency.render(
            &mut out,
            "aqueduct_monitor_probe_latency_seconds",
            &LATENCY_BUCKETS,
        );
        out.push_str(
            "# HELP aqueduct_monitor_round_duration_seconds Wall time of a probe round.\n",
        );
        out.push_str("# TYPE aqueduct_monitor_round_duration_seconds histogram\n");
        self.round_duration.render(
            &mut out,
            "aqueduct_monitor_round_duration_seconds",
            &ROUND_BUCKETS,
        );
        let gauges = [
            (
                "rounds_total",
                "counter",
                "Probe rounds finished.",
                self.rounds as f64,
            ),
            (
                "void_rounds_total",
                "counter",
                "Rounds marked void (more than half of the nodes failed).",
                self.void_rounds as f64,
            ),
            (
                "last_round_nodes",
                "gauge",
                "Nodes probed in the last round.",
                self.last_round_nodes as f64,
            ),
            (
                "last_round_relayed",
                "gauge",
                "Nodes that relayed in the last round.",
                self.last_round_relayed as f64,
            ),
            (
                "last_round_seconds",
                "gauge",
                "Duration of the last round.",
                self.last_round_seconds,
            ),
        ];
        for (name, kind, help, v) in gauges {
            let _ = writeln!(out, "# HELP aqueduct_monitor_{name} {help}");
            let _ = writeln!(out, "# TYPE aqueduct_monitor_{name} {kind}");
            let _ = writeln!(out, "aqueduct_monitor_{name} {v}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eth::Address;
    use crate::monitor::outcome::Outcome;
    use crate::monitor::probe::Measured;

    #[test]
    fn renders_outcomes_histograms_and_rounds() {
        let mut m = Metrics::default();
        let probe = |outcome, path, ms| Measured {
            node: Address([1; 20]),
            path,
            outcome,
            detail: String::new(),
            connect: None,
            tls: None,
            login: None,
            latency: Some(Duration::from_millis(ms)),
            download_bytes: 0,
            download: None,
            egress: None,
        };
        m.record_round(
            &RoundRecord {
                started_ms: 0,
                finished_ms: 1,
                void_reason: None,
                probes: vec![
                    probe(Outcome::Ok, ProbePath::Socks, 20),
                    probe(Outcome::Slow, ProbePath::Socks, 4000),
                    probe(Outcome::Ok, ProbePath::Http, 30),
                ],
            },
            Duration::from_secs(3),
        );
        let text = m.render();
        assert!(text.contains("aqueduct_monitor_probes_total{path=\"socks5\",outcome=\"ok\"} 1\n"));
        assert!(
            text.contains("aqueduct_monitor_probes_total{path=\"socks5\",outcome=\"slow\"} 1\n")
        );
        assert!(text.contains("aqueduct_monitor_probes_total{path=\"http\",outcome=\"ok\"} 1\n"));
        assert!(text.contains("aqueduct_monitor_probe_latency_seconds_bucket{le=\"0.025\"} 1\n"));
        assert!(text.contains("aqueduct_monitor_probe_latency_seconds_bucket{le=\"5\"} 3\n"));
        assert!(text.contains("aqueduct_monitor_round_duration_seconds_bucket{le=\"5\"} 1\n"));
        assert!(text.contains("aqueduct_monitor_last_round_relayed 2\n"));
        // Outcomes never seen still have their zero series.
        assert!(text
            .contains("aqueduct_monitor_probes_total{path=\"http\",outcome=\"wrong_egress\"} 0\n"));
    }
}
