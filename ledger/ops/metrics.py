"""Prometheus metrics of the ledger's processes (text exposition format, ``prometheus-client``).

Each process builds one ``LedgerMetrics`` on its own registry (never the library's global one, so
tests and several applications in one process do not collide) and exposes it either on a port of
its own (``serve``: ``ledger project --follow``, ``ledger relay --follow``, ``ledger notify``,
``--metrics-port``) or through the HTTP server's ``GET /metrics`` (``exposition``)::

    metrics = LedgerMetrics()
    metrics.add_consumers(lambda: [ConsumerStatus("contracts", lag=...)])
    body, content_type = exposition(metrics.registry)      # what /metrics answers

Metric names:

- ``ledger_commands_total{command, outcome, rule}``: commands by type and outcome (``accepted``,
  ``refused`` with the rule that refused it, ``failed`` for an error that is not a refusal).
- ``ledger_command_duration_seconds{command}``: latency of the command path (histogram).
- ``ledger_consumer_lag_events{consumer}``: notifications (or messages) not yet processed, counted,
  never an id difference.
- ``ledger_consumer_lag_seconds{consumer}``: now minus the recorded time of the oldest event not yet
  processed; 0 when caught up.
- ``ledger_consumer_position{consumer}``: the last position processed (for the relay: acknowledged
  by the broker; also ``ledger_relay_acknowledged_position{topic}``).
- ``ledger_consumer_stopped{consumer}``: 1 while a stop-policy consumer is stopped at an event.
- ``ledger_parked_events{consumer}``: events parked by a park-policy consumer.
- ``ledger_aggregate_cache_events``, ``ledger_aggregate_cache_bound_events``,
  ``ledger_aggregate_cache_aggregates``, ``ledger_aggregate_cache_evictions_total`` (``ledger
  serve``): what the aggregate cache holds, in events (``ledger.cache``) and aggregates, its bound,
  and how many it evicted to stay within it.

Consumer figures are computed when scraped, from a callback, so they are never stale.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class ConsumerStatus:
    """What a scrape reports of one consumer. ``None`` leaves a figure out."""

    consumer: str
    lag_events: int | None = None
    lag_seconds: float | None = None
    position: int | None = None
    stopped: bool | None = None
    parked: int | None = None
    relay_topic: str | None = None


StatusSource = Callable[[], Iterable[ConsumerStatus]]


class _ConsumersCollector(Collector):
    def __init__(self) -> None:
        self.sources: list[StatusSource] = []
        self._lock = threading.Lock()

    def describe(self) -> list[Any]:
        return []  # computed on scrape; registering must not call the sources

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = {
            "lag_events": GaugeMetricFamily(
                "ledger_consumer_lag_events", "Events not yet processed by the consumer (rows, not id differences)",
                labels=["consumer"]),
            "lag_seconds": GaugeMetricFamily(
                "ledger_consumer_lag_seconds",
                "Now minus the recorded time of the oldest event the consumer has not processed (0: caught up)",
                labels=["consumer"]),
            "position": GaugeMetricFamily(
                "ledger_consumer_position", "Last log position the consumer processed", labels=["consumer"]),
            "stopped": GaugeMetricFamily(
                "ledger_consumer_stopped", "1 while a stop-policy consumer is stopped at an event it cannot apply",
                labels=["consumer"]),
            "parked": GaugeMetricFamily(
                "ledger_parked_events", "Events parked by a park-policy consumer", labels=["consumer"]),
        }
        acked = GaugeMetricFamily(
            "ledger_relay_acknowledged_position", "Last log position whose events the broker acknowledged",
            labels=["topic"])
        with self._lock:
            for source in self.sources:
                try:
                    statuses = list(source())
                except Exception:
                    logger.warning("metrics: a consumer status could not be read", exc_info=True)
                    continue
                for status in statuses:
                    labels = [status.consumer]
                    for key in ("lag_events", "lag_seconds", "position", "stopped", "parked"):
                        value = getattr(status, key)
                        if value is not None:
                            families[key].add_metric(labels, float(value))
                    if status.relay_topic is not None and status.position is not None:
                        acked.add_metric([status.relay_topic], float(status.position))
        yield from families.values()
        yield acked


class _CacheCollector(Collector):
    """The application's aggregate cache (``ledger.cache.EventBoundedCache``), read when scraped."""

    def __init__(self, cache: Callable[[], Any]) -> None:
        self.cache = cache

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        cache = self.cache()
        if cache is None or not hasattr(cache, "max_events"):
            return
        yield GaugeMetricFamily("ledger_aggregate_cache_events",
                                "What the aggregate cache holds, in events (each aggregate: version + fixed part)",
                                value=float(cache.events))
        yield GaugeMetricFamily("ledger_aggregate_cache_bound_events",
                                "The aggregate cache's bound in events (LEDGER_AGGREGATE_CACHE_EVENTS)",
                                value=float(cache.max_events))
        yield GaugeMetricFamily("ledger_aggregate_cache_aggregates", "Aggregates in the aggregate cache",
                                value=float(len(cache)))
        yield CounterMetricFamily("ledger_aggregate_cache_evictions",
                                  "Aggregates evicted to keep the cache within its bound", value=float(cache.evictions))


class LedgerMetrics:
    """The metrics of one process: the command path and the consumers it runs."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.commands = Counter(
            "ledger_commands", "Commands by type and outcome (refusals by rule)",
            ["command", "outcome", "rule"], registry=self.registry,
        )
        self.latency = Histogram(
            "ledger_command_duration_seconds", "Latency of the command path, from parsed command to result",
            ["command"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )
        self._consumers = _ConsumersCollector()
        self.registry.register(self._consumers)

    def observe_command(self, command: str, outcome: str, seconds: float, rule: str | None = None) -> None:
        """Count one command (``accepted``, ``refused`` with its rule, ``failed``) and its latency."""
        self.commands.labels(command=command, outcome=outcome, rule=rule or "").inc()
        self.latency.labels(command=command).observe(seconds)

    @contextlib.contextmanager
    def timed(self, command: str) -> Iterator[None]:
        """Measure one command: accepted when the block ends, refused (by rule) on a LedgerError."""
        from aggregates.errors import LedgerError

        started = time.perf_counter()
        try:
            yield
        except LedgerError as refusal:
            self.observe_command(command, "refused", time.perf_counter() - started, refusal.rule)
            raise
        except Exception:
            self.observe_command(command, "failed", time.perf_counter() - started)
            raise
        self.observe_command(command, "accepted", time.perf_counter() - started)

    def add_cache(self, cache: Callable[[], Any]) -> None:
        """Report the aggregate cache ``cache()`` returns (None: nothing), on every scrape."""
        self.registry.register(_CacheCollector(cache))

    def add_consumers(self, source: StatusSource) -> None:
        """Report the consumers ``source`` describes, on every scrape."""
        self._consumers.sources.append(source)


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The body and content type of a scrape (for the HTTP server's ``GET /metrics``)."""
    return generate_latest(registry), CONTENT_TYPE_LATEST


def serve(port: int, registry: CollectorRegistry, host: str = "127.0.0.1") -> Callable[[], None]:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread; returns a stopper."""
    from prometheus_client import start_http_server

    server, thread = start_http_server(port, addr=host, registry=registry)

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return stop
