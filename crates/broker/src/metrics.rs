//! Prometheus metrics (`GET /metrics`, text format). One registry per broker, so several
//! brokers in one process (the tests) count apart. Every label value is a fixed string chosen
//! by the broker (route names, refusal codes, namespaces): nothing from a request, no token, id
//! or key can become a label.

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, Registry,
    TextEncoder,
};

pub(crate) struct Metrics {
    registry: Registry,
    /// `route`, `status` (the HTTP code), `outcome` (`ok`, or the refusal / Atlassian class).
    pub requests: IntCounterVec,
    pub in_flight: IntGauge,
    /// `grant_type`, `result` (`ok`, `error`, `unreachable`, `timeout`, `invalid`).
    pub upstream_seconds: HistogramVec,
    /// `op`: `rate_limit`, `replay`, `ping`; `kind`: `timeout`, `error`.
    pub redis_errors: IntCounterVec,
    pub rate_limited: IntCounter,
    /// Decisions let through because the shared limiter could not answer.
    pub rate_limit_fail_open: IntCounter,
    /// `namespace`: `dpop-jti`, `state`, `ticket`.
    pub replay_refused: IntCounterVec,
    /// `namespace`: requests refused with `replay_check_unavailable` (failed closed).
    pub replay_unavailable: IntCounterVec,
}

impl Metrics {
    pub fn new() -> std::io::Result<Self> {
        let registry = Registry::new();
        let err = std::io::Error::other;
        let requests = IntCounterVec::new(
            Opts::new(
                "broker_requests_total",
                "Requests by route, status and outcome.",
            ),
            &["route", "status", "outcome"],
        )
        .map_err(err)?;
        let in_flight =
            IntGauge::new("broker_in_flight_requests", "Requests being served.").map_err(err)?;
        let upstream_seconds = HistogramVec::new(
            HistogramOpts::new(
                "broker_upstream_duration_seconds",
                "Round trips to the token endpoint.",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["grant_type", "result"],
        )
        .map_err(err)?;
        let redis_errors = IntCounterVec::new(
            Opts::new(
                "broker_redis_errors_total",
                "Redis calls that failed or ran past their bound.",
            ),
            &["op", "kind"],
        )
        .map_err(err)?;
        let rate_limited = IntCounter::new(
            "broker_rate_limited_total",
            "Requests refused with 429 rate_limited.",
        )
        .map_err(err)?;
        let rate_limit_fail_open = IntCounter::new(
            "broker_rate_limit_fail_open_total",
            "Requests let through unlimited because Redis could not answer (fail open).",
        )
        .map_err(err)?;
        let replay_refused = IntCounterVec::new(
            Opts::new(
                "broker_replay_refused_total",
                "Proofs, states and tickets refused as already used.",
            ),
            &["namespace"],
        )
        .map_err(err)?;
        let replay_unavailable = IntCounterVec::new(
            Opts::new(
                "broker_replay_unavailable_total",
                "Requests refused with 503 replay_check_unavailable (fail closed).",
            ),
            &["namespace"],
        )
        .map_err(err)?;
        registry
            .register(Box::new(requests.clone()))
            .and_then(|_| registry.register(Box::new(in_flight.clone())))
            .and_then(|_| registry.register(Box::new(upstream_seconds.clone())))
            .and_then(|_| registry.register(Box::new(redis_errors.clone())))
            .and_then(|_| registry.register(Box::new(rate_limited.clone())))
            .and_then(|_| registry.register(Box::new(rate_limit_fail_open.clone())))
            .and_then(|_| registry.register(Box::new(replay_refused.clone())))
            .and_then(|_| registry.register(Box::new(replay_unavailable.clone())))
            .map_err(err)?;
        Ok(Self {
            registry,
            requests,
            in_flight,
            upstream_seconds,
            redis_errors,
            rate_limited,
            rate_limit_fail_open,
            replay_refused,
            replay_unavailable,
        })
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 * 1024);
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}
