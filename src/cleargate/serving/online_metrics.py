"""What `GET /metrics` says, in Prometheus' text format (prometheus_client, a registry of the server's own).

    cleargate_requests_total{endpoint,code}           every answered request
    cleargate_request_errors_total{endpoint,check}    refused requests, by the check that refused them
    cleargate_request_seconds{endpoint}               latency histogram (reading the body to the answer)
    cleargate_rows_predicted_total                    rows answered
    cleargate_model_version{model,alias}              the version each followed alias is served by (0: none)
    cleargate_model_swaps_total{alias}                versions swapped in
    cleargate_model_swaps_refused_total{alias}        versions that failed to load or answer, not swapped in
    cleargate_registry_errors_total                   re-resolutions that could not reach the registry
    cleargate_shadow_rows_total{outcome}              shadow rows that agreed / disagreed with the answer
    cleargate_shadow_dropped_total                    requests not shadowed (the shadow queue was full)
    cleargate_inbox_batches_total{kind}               micro-batches written for monitoring (traffic, feedback)
    cleargate_feedback_rows_total                     labels received on /feedback
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


class ServerMetrics:
    def __init__(self, model: str) -> None:
        disable_created_metrics()  # no `_created` series beside each counter: half the text, nothing lost
        self.model = model
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("cleargate_requests", "Requests answered", ["endpoint", "code"], registry=r)
        self.errors = Counter("cleargate_request_errors", "Requests refused, by check", ["endpoint", "check"],
                              registry=r)
        self.latency = Histogram("cleargate_request_seconds", "Seconds from reading a request to its answer",
                                 ["endpoint"], buckets=BUCKETS, registry=r)
        self.rows = Counter("cleargate_rows_predicted", "Rows answered", registry=r)
        self.version = Gauge("cleargate_model_version", "Version serving each followed alias (0: none)",
                             ["model", "alias"], registry=r)
        self.swaps = Counter("cleargate_model_swaps", "Versions swapped in", ["alias"], registry=r)
        self.refused = Counter("cleargate_model_swaps_refused", "Versions not swapped in (failed to load or to "
                               "answer their example)", ["alias"], registry=r)
        self.registry_errors = Counter("cleargate_registry_errors", "Re-resolutions that could not reach the "
                                       "registry", registry=r)
        self.shadow = Counter("cleargate_shadow_rows", "Shadow rows, by agreement with the answer", ["outcome"],
                              registry=r)
        self.shadow_dropped = Counter("cleargate_shadow_dropped", "Requests not shadowed: queue full", registry=r)
        self.batches = Counter("cleargate_inbox_batches", "Micro-batches written to the inbox", ["kind"], registry=r)
        self.feedback = Counter("cleargate_feedback_rows", "Labels received on /feedback", registry=r)
        self._answered = self.requests.labels("invocations", "200")
        self._timed = self.latency.labels("invocations")

    def answered(self, rows: int, seconds: float) -> None:
        """One request answered (the hot path: label children bound once)."""
        self._answered.inc()
        self._timed.observe(seconds)
        self.rows.inc(rows)

    def failed(self, endpoint: str, status: int, check: str, seconds: float | None = None) -> None:
        self.requests.labels(endpoint, str(status)).inc()
        self.errors.labels(endpoint, check).inc()
        if seconds is not None:
            self.latency.labels(endpoint).observe(seconds)

    def text(self) -> bytes:
        return generate_latest(self.registry)
