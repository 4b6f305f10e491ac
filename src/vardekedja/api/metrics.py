"""Prometheus metrics: request counts and latencies per route, and each projection's lag."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vardekedja.projections import faults
from vardekedja.runtime import Runtime


class ProjectionLag(Collector):
    """Read at scrape time, so the figures are never stale."""

    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runtime = self.runtime()
        if runtime is None:
            return
        head = runtime.marketplace.position
        lag = GaugeMetricFamily("vardekedja_projection_lag_events", "Events the projection is behind", labels=["projection"])
        position = GaugeMetricFamily("vardekedja_projection_position", "Last event position processed", labels=["projection"])
        for name, at in runtime.database.positions(runtime.views_list).items():
            lag.add_metric([name], head - at)
            position.add_metric([name], at)
        yield lag
        yield position
        counted = GaugeMetricFamily("vardekedja_projection_faults",
                                    "Events a projection stopped before or skipped (parked) because it could not "
                                    "apply them", labels=["projection", "action"])  # fmt: skip
        with runtime.database.reader.connect() as connection:
            tally: dict[tuple[str, str], int] = {}
            for fault in faults.all_faults(connection):
                tally[(fault.projection, fault.action)] = tally.get((fault.projection, fault.action), 0) + 1
        for (name, action), count in sorted(tally.items()):
            counted.add_metric([name, action], count)
        yield counted
        yield GaugeMetricFamily("vardekedja_event_store_position", "Last event position recorded", value=head)


class Metrics:
    def __init__(self, runtime: Callable[[], Runtime | None]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("vardekedja_http_requests", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)  # fmt: skip
        self.latency = Histogram(
            "vardekedja_http_request_seconds", "HTTP request latency", ["method", "route"], registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )  # fmt: skip
        self.registry.register(ProjectionLag(runtime))


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        # Routing copies the scope; a state dict made here is shared by every copy, so what a
        # dependency notes on request.state is still there for the error handlers.
        scope.setdefault("state", {})

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            template = _template(scope) if scope.get("route") is not None else "unmatched"
            self.metrics.requests.labels(scope["method"], template, str(status)).inc()
            self.metrics.latency.labels(scope["method"], template).observe(time.perf_counter() - started)


def _template(scope: Scope) -> str:
    """The matched route's full path template, such as ``/v1/deliveries/{delivery_id}/schedule``.

    Rebuilt from the path and its parameters because newer FastAPI versions put
    the route in the scope as its router declared it, without the routers'
    prefixes (``/{delivery_id}/schedule``), which would merge different routes.
    """
    names = {str(value): name for name, value in scope.get("path_params", {}).items()}
    return "/".join(f"{{{names[part]}}}" if part in names else part for part in scope["path"].split("/"))
