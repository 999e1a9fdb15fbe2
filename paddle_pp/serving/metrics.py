"""Prometheus metrics of one app (its own registry, so two apps in a process never share counters)."""
from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
# The label values a route may take: the app's routes, never a raw path (unbounded label values would grow
# the registry with every probe of a scanner).
ROUTES = ("/", "/ocr", "/predict/ocr_system", "/healthz", "/readyz", "/metrics", "/static")


def route_label(path: str) -> str:
    if path in ROUTES:
        return path
    return "/static" if path.startswith("/static/") else "other"


class Metrics:
    def __init__(self, pool: Any) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("paddle_pp_requests", "HTTP requests by route and status",
                                ["route", "status"], registry=self.registry)
        self.latency = Histogram("paddle_pp_request_duration_seconds", "HTTP request latency by route",
                                 ["route"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.failures = Counter("paddle_pp_failures", "failed requests by cause (the error code)",
                                ["cause"], registry=self.registry)
        self.pages = Counter("paddle_pp_pages", "pages OCR'd", registry=self.registry)
        queue = Gauge("paddle_pp_queue_depth", "requests holding a place but no worker (reading or queued)",
                      registry=self.registry)
        queue.set_function(lambda: pool.waiting)
        busy = Gauge("paddle_pp_workers_busy", "OCR workers running a job", registry=self.registry)
        busy.set_function(lambda: pool.running)
        workers = Gauge("paddle_pp_workers", "OCR workers", registry=self.registry)
        workers.set(pool.workers)
        capacity = Gauge("paddle_pp_queue_size", "queued requests allowed beyond the busy workers",
                         registry=self.registry)
        capacity.set(pool.queue_size)

    def observe(self, path: str, status: int, seconds: float) -> None:
        route = route_label(path)
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
