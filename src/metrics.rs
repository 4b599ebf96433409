//! A small shared metrics registry: each channel counts into its own labelled
//! set, and the server renders them all in the Prometheus text format.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counters for one channel (`webhook`, later `slack`, `discord`).
#[derive(Debug, Default)]
pub struct ChannelMetrics {
    pub inquiries: AtomicU64,
    pub failed: AtomicU64,
    pub rate_limited: AtomicU64,
}

/// Counters the HTTP server keeps about its connections.
#[derive(Debug, Default)]
pub struct HttpMetrics {
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub request_timeouts: AtomicU64,
}

#[derive(Debug, Default)]
pub struct Metrics {
    channels: Mutex<BTreeMap<&'static str, Arc<ChannelMetrics>>>,
    pub http: HttpMetrics,
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// The counters of `channel`, created on first use; rendered even while zero.
    pub fn channel(&self, channel: &'static str) -> Arc<ChannelMetrics> {
        self.channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(channel)
            .or_default()
            .clone()
    }

    /// Every counter in the Prometheus text format.
    pub fn render(&self, out: &mut String) {
        let channels: Vec<(&'static str, Arc<ChannelMetrics>)> = self
            .channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, v)| (*k, v.clone()))
            .collect();
        type Pick = fn(&ChannelMetrics) -> &AtomicU64;
        let families: [(&str, &str, Pick); 3] = [
            (
                "costbot_inquiries_total",
                "Inquiries received, by channel.",
                |m| &m.inquiries,
            ),
            (
                "costbot_inquiries_failed_total",
                "Inquiries answered with an error, by channel.",
                |m| &m.failed,
            ),
            (
                "costbot_rate_limited_total",
                "Requests refused by the per-caller rate limit, by channel.",
                |m| &m.rate_limited,
            ),
        ];
        for (name, help, pick) in families {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
            for (channel, m) in &channels {
                let _ = writeln!(
                    out,
                    "{name}{{channel=\"{channel}\"}} {}",
                    pick(m).load(Ordering::Relaxed)
                );
            }
        }
        let h = &self.http;
        let _ = write!(
            out,
            "# HELP costbot_http_connections_open HTTP connections being served.\n\
             # TYPE costbot_http_connections_open gauge\n\
             costbot_http_connections_open {}\n\
             # HELP costbot_http_connections_total HTTP connections accepted.\n\
             # TYPE costbot_http_connections_total counter\n\
             costbot_http_connections_total {}\n\
             # HELP costbot_http_request_timeouts_total Requests cut by the whole-request timeout.\n\
             # TYPE costbot_http_request_timeouts_total counter\n\
             costbot_http_request_timeouts_total {}\n",
            h.connections_open.load(Ordering::Relaxed),
            h.connections_total.load(Ordering::Relaxed),
            h.request_timeouts.load(Ordering::Relaxed),
        );
    }
}

/// What the language model costs and how often it could not be used.
#[derive(Debug, Default)]
pub struct LlmMetrics {
    pub requests: AtomicU64,
    /// Failed requests by kind (timeout, rate_limited, http_status, unreachable, malformed).
    failures: Mutex<BTreeMap<&'static str, u64>>,
    pub prompt_tokens: AtomicU64,
    pub completion_tokens: AtomicU64,
    /// Answers whose model prose named a figure no tool returned, after one correction.
    pub grounding_failures: AtomicU64,
    /// Turns the rules planner answered because the model could not.
    pub fallbacks: AtomicU64,
    latency_micros: AtomicU64,
}

impl LlmMetrics {
    pub fn new() -> Arc<LlmMetrics> {
        Arc::new(LlmMetrics::default())
    }

    /// One request: its latency and its tokens, or the kind of failure.
    pub fn request(
        &self,
        took: std::time::Duration,
        outcome: Result<crate::llm::Usage, &'static str>,
    ) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.latency_micros
            .fetch_add(took.as_micros() as u64, Ordering::Relaxed);
        match outcome {
            Ok(u) => {
                self.prompt_tokens
                    .fetch_add(u.prompt_tokens, Ordering::Relaxed);
                self.completion_tokens
                    .fetch_add(u.completion_tokens, Ordering::Relaxed);
            }
            Err(kind) => {
                *self
                    .failures
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .entry(kind)
                    .or_default() += 1;
            }
        }
    }

    pub fn grounding_failure(&self) {
        self.grounding_failures.fetch_add(1, Ordering::Relaxed);
    }

    pub fn fallback(&self) {
        self.fallbacks.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, out: &mut String) {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let _ = write!(
            out,
            "# HELP costbot_llm_requests_total Chat-completions requests sent to the language model.\n\
             # TYPE costbot_llm_requests_total counter\n\
             costbot_llm_requests_total {}\n\
             # HELP costbot_llm_request_seconds Time the language model took to answer.\n\
             # TYPE costbot_llm_request_seconds summary\n\
             costbot_llm_request_seconds_sum {:.6}\n\
             costbot_llm_request_seconds_count {}\n\
             # HELP costbot_llm_tokens_total Tokens the language model reported, by kind.\n\
             # TYPE costbot_llm_tokens_total counter\n\
             costbot_llm_tokens_total{{kind=\"prompt\"}} {}\n\
             costbot_llm_tokens_total{{kind=\"completion\"}} {}\n\
             # HELP costbot_llm_grounding_failures_total Model answers replaced by the deterministic summary because they named a figure no tool returned.\n\
             # TYPE costbot_llm_grounding_failures_total counter\n\
             costbot_llm_grounding_failures_total {}\n\
             # HELP costbot_llm_fallbacks_total Turns the rules planner answered because the language model could not.\n\
             # TYPE costbot_llm_fallbacks_total counter\n\
             costbot_llm_fallbacks_total {}\n\
             # HELP costbot_llm_request_failures_total Language model requests that failed, by kind.\n\
             # TYPE costbot_llm_request_failures_total counter\n",
            get(&self.requests),
            get(&self.latency_micros) as f64 / 1e6,
            get(&self.requests),
            get(&self.prompt_tokens),
            get(&self.completion_tokens),
            get(&self.grounding_failures),
            get(&self.fallbacks),
        );
        for (kind, n) in self
            .failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
        {
            let _ = writeln!(
                out,
                "costbot_llm_request_failures_total{{kind=\"{kind}\"}} {n}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels_are_labelled() {
        let m = Metrics::new();
        m.channel("webhook")
            .inquiries
            .fetch_add(2, Ordering::Relaxed);
        m.channel("slack");
        let mut out = String::new();
        m.render(&mut out);
        assert!(out.contains("costbot_inquiries_total{channel=\"webhook\"} 2\n"));
        assert!(out.contains("costbot_inquiries_total{channel=\"slack\"} 0\n"));
        assert!(out.contains("costbot_rate_limited_total{channel=\"webhook\"} 0\n"));
    }
}
