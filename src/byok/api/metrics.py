"""Prometheus metrics of one API instance (its own registry, so apps never collide).

================================================  ============================================
metric                                            source
================================================  ============================================
``byok_http_request_duration_seconds``            histogram by method, route template, status
                                                  (whole request, streaming included); every
                                                  label from a closed set (see below)
``byok_aws_calls_total{operation}``               the client factory's counter (per API call)
``byok_aws_call_attempts_total{operation}``       the same, per HTTP attempt (retries)
``byok_aws_call_errors_total{operation}``         the factory counter's errors, when it has them
``byok_key_errors_total{operation,error}``        customer-key and KMS errors answered by the API
``byok_key_cache_entries``                        plaintext tenant keys cached now
``byok_key_cache_hits_total`` / ``_misses_total``  when the cache counts them
``byok_tenants{state}``                           tenants by lifecycle state (read at scrape)
================================================  ============================================

Label values never come from the client: ``method`` is one of :data:`KNOWN_METHODS` or
``other``, ``route`` is the template of a route of this app (``/v1/tenants/{tenant}``) or
``other`` (no route matched, or the request was refused before routing), ``status`` is a
status this server sent. A client sending random methods and paths therefore adds at most
``len(KNOWN_METHODS) + 1`` times (routes + 1) times (statuses) series, never one per request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from byok.errors import ByokError
from byok.service.vendor import Vendor
from byok.store.schema import TenantState

__all__ = ["KNOWN_METHODS", "OTHER", "ApiMetrics", "MetricsMiddleware"]

#: The methods byok serves; any other method is counted as :data:`OTHER`.
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"})
OTHER = "other"

_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _ServiceCollector(Collector):
    """Reads the service's own counters at scrape time."""

    def __init__(self, vendor: Vendor) -> None:
        self.vendor = vendor

    def describe(self) -> Iterator[Metric]:
        """Nothing up front: reading the service happens only at scrape time."""
        return iter(())

    def collect(self) -> Iterator[Metric]:
        """The service's counters and gauges, read now."""
        counter = self.vendor.factory.counter
        yield _counters("byok_aws_calls", "AWS API calls by operation", counter.counts())
        yield _counters(
            "byok_aws_call_attempts", "AWS HTTP attempts by operation", counter.attempts()
        )
        errors = getattr(counter, "errors", None)
        if callable(errors):
            yield _counters("byok_aws_call_errors", "AWS API calls that failed", errors())
        cache: Any = self.vendor.cache
        yield GaugeMetricFamily(
            "byok_key_cache_entries", "Plaintext tenant keys in the cache", value=len(cache)
        )
        for name in ("hits", "misses"):
            value = getattr(cache, name, None)
            if isinstance(value, int):
                yield CounterMetricFamily(
                    f"byok_key_cache_{name}", f"Tenant-key cache {name}", value=value
                )
        yield self._tenants()

    def _tenants(self) -> Metric:
        family = GaugeMetricFamily("byok_tenants", "Tenants by lifecycle state", labels=["state"])
        counts = dict.fromkeys(TenantState, 0)
        try:
            for tenant in self.vendor.tenants.list():
                counts[tenant.state] += 1
        except ByokError:
            return family  # the database is down: /readyz says so
        for state, count in counts.items():
            family.add_metric([state.value], count)
        return family


def _counters(name: str, documentation: str, values: dict[str, int]) -> Metric:
    family = CounterMetricFamily(name, documentation, labels=["operation"])
    for operation, value in sorted(values.items()):
        family.add_metric([operation], value)
    return family


class ApiMetrics:
    """The metrics of one app.

    Args:
        vendor: the service whose counters are exported.
    """

    def __init__(self, vendor: Vendor) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "byok_http_request_duration_seconds",
            "API request latency by route template",
            ["method", "route", "status"],
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.key_errors = Counter(
            "byok_key_errors",
            "Customer-key and KMS errors answered by the API, by operation and error",
            ["operation", "error"],
            registry=self.registry,
        )
        self.registry.register(_ServiceCollector(vendor))

    def count_key_error(self, error: ByokError) -> None:
        """Count one customer-key or KMS error (the problem handler calls this)."""
        self.key_errors.labels(error.operation or "unknown", type(error).__name__).inc()


class MetricsMiddleware:
    """ASGI middleware timing each HTTP request, labelled by its route template.

    Args:
        app: the wrapped application.
        metrics: where to record.
    """

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.latency.labels(*request_labels(scope, status)).observe(
                time.perf_counter() - started
            )


def request_labels(scope: Scope, status: int) -> tuple[str, str, str]:
    """The (method, route, status) labels of a request, each from a closed set.

    Returns:
        ``method`` in :data:`KNOWN_METHODS` or ``other``; ``route`` the matched route's
        template (set by the router on the scope) or ``other``; ``status`` as sent.
    """
    method = scope["method"] if scope["method"] in KNOWN_METHODS else OTHER
    route = getattr(scope.get("route"), "path", None)
    return method, route if isinstance(route, str) else OTHER, str(status)
