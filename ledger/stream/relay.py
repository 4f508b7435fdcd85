"""The relay: the ledger's notification log, in order, to a Kafka topic (at least once).

Each round reads the next batch of the notification log after the relay's recorded position
(``app.recorder.select_notifications``, one short read), publishes every customer event of it as a
CloudEvents envelope keyed by the customer id, waits until the broker acknowledged every message
(``acks=all``, idempotent producer so retries keep the order within a partition), and only then
records the batch's last position in the ledger database with the library's tracking recorder
(``Tracking("relay:<topic>", position)``, one short write). No Kafka I/O happens inside a
database transaction.

A crash anywhere before the position is recorded re-publishes that batch after a restart: messages
may be duplicated, never lost, and one customer's events stay in order (one key, one partition).
Subscribers drop duplicates by event id (see ``subscriber.py``). A broker that goes away makes a
round fail; the relay closes its producer, waits and re-publishes from the recorded position.

Error policy (SPEC 9: a side effect parks): an event the relay cannot publish, however long it
waits — it cannot be decoded or turned into an envelope, or its record is larger than the
producer's ``max_request_size`` (``MessageSizeTooLargeError``, raised before anything is sent) —
is parked under its customer (``ledger.ops.parked``, consumer ``relay:<topic>``, in the ledger's
database), and that customer's later events are parked behind it, in order, while other
customers' events go on and the position advances. ``ledger parked retry --consumer relay:<topic>``
marks them; the relay publishes the marked ones again, in original order, reading them afresh from
the log (a new release, or a larger limit, lets them through). A broker rejecting a record after
it was sent is treated as an outage (waited out), not parked: keep ``max_request_size`` within the
broker's ``message.max.bytes`` so that an oversized record is caught before it is sent.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from eventsourcing.persistence import Mapper, Notification, PersistenceError, StoredEvent, Tracking
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, MessageSizeTooLargeError, TopicAlreadyExistsError
from kafka.partitioner.default import DefaultPartitioner
from sqlalchemy.exc import DBAPIError

from ledger.app import LedgerApplication
from ledger.ops.parked import Parked, ParkedStore
from ledger.stream.envelope import KAFKA_CONTENT_TYPE, encode_event, event_id, is_published
from ledger.transcoding import ledger_transcoder

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_TOPIC = "select-ledger.events"
DEFAULT_PARTITIONS = 3
DEFAULT_DELIVERY_TIMEOUT_MS = 30_000
WAITS_BEHIND = "waits behind an earlier parked event of this customer"
POISON_ERRORS: tuple[type[Exception], ...] = (MessageSizeTooLargeError,)
"""Errors of one record that no wait cures: the event is parked (others are outages: waited out)."""


class RelayError(Exception):
    """The relay cannot go on; the message says why and what to do."""


class CachingPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """Kafka's default partitioning (murmur2 of the key), remembered per key: the relay sends many
    events of the same customers, and the pure-Python hash is a large part of a send's cost."""

    def __init__(self) -> None:
        super().__init__()
        self._cache: dict[tuple[str, bytes, int], int] = {}

    def partition(
        self, topic: str, key: Any, serialized_key: bytes | None, value: Any, serialized_value: Any, cluster: Any
    ) -> int:
        if serialized_key is None:
            return int(super().partition(topic, key, serialized_key, value, serialized_value, cluster))
        partitions = cluster.partitions_for_topic(topic)
        count = len(partitions) if partitions else 0
        cached = self._cache.get((topic, serialized_key, count))
        if cached is None:
            cached = int(super().partition(topic, key, serialized_key, value, serialized_value, cluster))
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[(topic, serialized_key, count)] = cached
        return cached


def split_servers(bootstrap_servers: str | Sequence[str]) -> list[str]:
    if isinstance(bootstrap_servers, str):
        return [s.strip() for s in bootstrap_servers.split(",") if s.strip()]
    return list(bootstrap_servers)


def producer_config(bootstrap_servers: str | Sequence[str], **overrides: Any) -> dict[str, Any]:
    """The relay's producer settings (also used by the benchmark's bare producer)."""
    config: dict[str, Any] = {
        "bootstrap_servers": split_servers(bootstrap_servers),
        "client_id": "select-ledger-relay",
        "acks": "all",
        "enable_idempotence": True,
        "max_in_flight_requests_per_connection": 5,
        "linger_ms": 5,
        "batch_size": 256 * 1024,
        "max_block_ms": 15_000,
        "request_timeout_ms": 10_000,
        "delivery_timeout_ms": DEFAULT_DELIVERY_TIMEOUT_MS,
        "reconnect_backoff_ms": 100,
        "reconnect_backoff_max_ms": 2_000,
        "partitioner": CachingPartitioner(),
    }
    config.update(overrides)
    return config


@dataclass
class RelayStats:
    published: int = 0
    skipped: int = 0
    parked: int = 0
    batches: int = 0
    failures: int = 0
    position: int = 0
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        return self.published / self.elapsed if self.elapsed > 0 else 0.0


def ensure_topic(
    bootstrap_servers: str | Sequence[str], topic: str, partitions: int = DEFAULT_PARTITIONS, timeout: float = 15.0
) -> bool:
    """Create ``topic`` with ``partitions`` partitions unless it exists; True when it was created.

    Raises a KafkaError (KafkaTimeoutError) when no broker answers within ``timeout`` seconds."""
    admin = KafkaAdminClient(
        bootstrap_servers=split_servers(bootstrap_servers),
        client_id="select-ledger-admin",
        request_timeout_ms=int(timeout * 1000),
        bootstrap_timeout_ms=int(timeout * 1000),
    )
    try:
        if topic in admin.list_topics():
            return False
        try:
            admin.create_topics([NewTopic(topic, partitions, 1)], timeout_ms=int(timeout * 1000))
        except TopicAlreadyExistsError:
            return False
        return True
    finally:
        admin.close()


Row = tuple[int, Any, int, str, bytes, "tuple[int, bytes] | None"]
AuditMap = dict[int, tuple[int, bytes]]
_WORKER_MAPPER: Mapper[Any] | None = None


def _encoder_init(relay_pid: int) -> None:
    """Initialiser of an encoder process: the ledger's mapper, and a watch on the relay process.

    An encoder waits on its call queue, whose pipe it holds both ends of: when the relay is killed
    (SIGKILL: no shutdown), nothing would ever wake it. The watch ends it once its parent is gone.
    """
    global _WORKER_MAPPER
    _WORKER_MAPPER = Mapper(transcoder=ledger_transcoder())
    threading.Thread(target=_exit_when_orphaned, args=(relay_pid,), daemon=True, name="orphan-watch").start()


def _exit_when_orphaned(relay_pid: int, interval: float = 0.5) -> None:
    while os.getppid() == relay_pid:
        time.sleep(interval)
    os._exit(0)


def encode_rows(rows: Sequence[Row], mapper: Mapper[Any] | None = None) -> list[tuple[bytes, bytes]]:
    """(key, value) of each customer event among notification rows ``(id, originator_id, version,
    topic, state)``, in order: what an encoder process computes for the relay."""
    mapper = mapper or _WORKER_MAPPER
    if mapper is None:
        raise RuntimeError("encode_rows: no mapper (the encoder process was not initialised)")
    return _encode(mapper, ((p, StoredEvent(o, v, t, s), a) for p, o, v, t, s, a in rows))


def _encode(
    mapper: Mapper[Any], stored: Iterable[tuple[int, StoredEvent, tuple[int, bytes] | None]]
) -> list[tuple[bytes, bytes]]:
    """(key, value) of each customer event among ``(log position, stored event, audit seq and leaf)``,
    in order."""
    out = []
    for position, stored_event, audit in stored:
        domain_event = mapper.to_domain_event(stored_event)
        if is_published(domain_event):
            out.append(encode_event(domain_event, position, audit))
    return out


def _rows(notifications: Sequence[Notification], audit: AuditMap) -> list[Row]:
    return [(n.id, n.originator_id, n.originator_version, n.topic, n.state, audit.get(n.id)) for n in notifications]


@dataclass
class _Page:
    start: int
    notifications: Sequence[Notification]
    messages: Future[list[tuple[bytes, bytes]]] | list[tuple[bytes, bytes]] | Exception  # the page's encoding error


class Relay:
    """Publishes the ledger's customer events to ``topic``; see the module's docstring.

    With ``encoders`` ≥ 1 (``ledger relay`` uses 1), envelopes are built in that many separate
    processes, a page ahead: while this process hands page N to the producer, an encoder decodes and
    serialises page N+1 on another core. The processes are spawned, so a script that uses them must
    guard its entry point with ``if __name__ == "__main__":``. ``encoders=0`` (the default here)
    builds envelopes in this process, between sends.
    """

    def __init__(
        self,
        app: LedgerApplication,
        bootstrap_servers: str | Sequence[str],
        topic: str,
        *,
        batch_size: int = 1000,
        partitions: int = DEFAULT_PARTITIONS,
        producer_overrides: Mapping[str, Any] | None = None,
        connect_timeout: float = 15.0,
        delivery_timeout: float | None = None,
        log: Callable[[str], None] | None = None,
        encoders: int = 0,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if encoders < 0:
            raise ValueError("encoders must be 0 or more")
        self.app = app
        self.bootstrap_servers = bootstrap_servers
        self.topic = topic
        self.batch_size = batch_size
        self.partitions = partitions
        self.connect_timeout = connect_timeout
        self.tracking_name = f"relay:{topic}"
        self.tracking = app.factory.tracking_recorder()
        self.stats = RelayStats(position=self.position())
        self._producer_overrides = dict(producer_overrides or {})
        if delivery_timeout is not None:
            ms = max(int(delivery_timeout * 1000), 1000)
            self._producer_overrides.setdefault("delivery_timeout_ms", ms)
            self._producer_overrides.setdefault("request_timeout_ms", min(10_000, ms // 2))
            self._producer_overrides.setdefault("max_block_ms", ms)
        self._producer: KafkaProducer | None = None
        self._log = log or (lambda _message: None)
        self._topic_checked = False
        plain_mapper = getattr(app.mapper, "cipher", None) is None and getattr(app.mapper, "compressor", None) is None
        self.encoders = encoders if plain_mapper else 0
        self._pool: ProcessPoolExecutor | None = None
        self._ahead: _Page | None = None
        self._parked: ParkedStore | None = None
        self._parked_tables = False

    # ----- position

    def position(self) -> int:
        """The last ledger position whose events the broker acknowledged (0: nothing yet)."""
        return self.tracking.max_tracking_id(self.tracking_name) or 0

    def head(self) -> int:
        """The last position in the ledger's notification log (0 when empty)."""
        return self.app.recorder.max_notification_id() or 0

    def _record(self, position: int) -> None:
        self.tracking.insert_tracking(Tracking(self.tracking_name, position))

    # ----- producer

    def connect(self) -> None:
        """Reach the broker and make sure the topic exists; RelayError with what to do when not.
        Starts the encoder processes too, so the first round does not wait for them."""
        self._start_encoders()
        try:
            self._connect()
        except KafkaError as exc:
            self._drop_producer()
            raise RelayError(
                f"cannot reach Kafka at {self.bootstrap_servers} ({type(exc).__name__}: {exc}); "
                "is the broker running? (scripts/kafka.sh start)"
            ) from None

    def _connect(self) -> KafkaProducer:
        if self._producer is None:
            if not self._topic_checked:
                ensure_topic(self.bootstrap_servers, self.topic, self.partitions, timeout=self.connect_timeout)
                self._topic_checked = True
            config = producer_config(self.bootstrap_servers, **self._producer_overrides)
            config.setdefault("bootstrap_timeout_ms", int(self.connect_timeout * 1000))
            self._producer = KafkaProducer(**config)
        return self._producer

    def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            with contextlib.suppress(Exception):  # a broken producer is being thrown away
                producer.close(timeout=0)

    def close(self) -> None:
        parked, self._parked = self._parked, None
        if parked is not None:
            parked.close()
        self._ahead = None
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=10)

    # ----- encoders

    def _start_encoders(self) -> ProcessPoolExecutor | None:
        if self._pool is None and self.encoders > 0:
            pool = ProcessPoolExecutor(
                self.encoders, mp_context=multiprocessing.get_context("spawn"), initializer=_encoder_init,
                initargs=(os.getpid(),),
            )
            try:
                pool.submit(encode_rows, []).result(timeout=60)
            except Exception as exc:
                pool.shutdown(wait=False, cancel_futures=True)
                self._log(f"relay: encoder processes unavailable ({type(exc).__name__}: {exc}); encoding inline")
                self.encoders = 0
                return None
            self._pool = pool
        return self._pool

    def _page(self, start: int) -> _Page:
        notifications = self.app.recorder.select_notifications(start, self.batch_size)
        pool = self._start_encoders()
        if pool is None or not notifications:
            try:
                return _Page(start, notifications, self._messages(notifications))
            except PersistenceError:
                raise
            except Exception as exc:  # some event of it cannot be encoded: the batch finds which (_items)
                return _Page(start, notifications, exc)
        return _Page(start, notifications, pool.submit(encode_rows, _rows(notifications, self._audit(notifications))))

    def _audit(self, notifications: Sequence[Notification]) -> AuditMap:
        """The audit sequence number and leaf hash of each notification that is logged (one query)."""
        recorder: Any = self.app.recorder
        log = getattr(recorder, "audit", None)
        if log is None or not notifications:
            return {}
        with recorder.datastore.transaction(commit=False) as curs:
            found: AuditMap = log.by_notification(curs, notifications[0].id, notifications[-1].id)
            return found

    def _page_messages(self, page: _Page) -> list[tuple[bytes, bytes]]:
        if isinstance(page.messages, list):
            return page.messages
        if isinstance(page.messages, Exception):
            raise page.messages
        try:
            return page.messages.result()
        except BrokenProcessPool:
            self._log("relay: an encoder process died; encoding inline from now on")
            self._pool, self.encoders, self._ahead = None, 0, None
            return self._messages(page.notifications)

    # ----- one round

    def _messages(self, notifications: Sequence[Notification]) -> list[tuple[bytes, bytes]]:
        """(key, value) of each customer event among ``notifications``, in log order."""
        audit = self._audit(notifications)
        return _encode(self.app.mapper, ((n.id, n, audit.get(n.id)) for n in notifications))

    def publish_batch(self) -> int:
        """Publish the next batch; return how many log positions it covered (0: caught up).

        With encoder processes, the next page is read and handed to them before this one is sent, so
        it is encoded meanwhile; a page read ahead is used only if it starts right after the recorded
        position (after a failed round it is dropped and read again). Raises KafkaError when the broker did not
        acknowledge every message (nothing is recorded then), PersistenceError when the ledger
        database failed.
        """
        start = self.position() + 1
        ahead, self._ahead = self._ahead, None
        page = ahead if ahead is not None and ahead.start == start else self._page(start)
        notifications = page.notifications
        if not notifications:
            return 0
        last = notifications[-1].id
        if len(notifications) == self.batch_size and self.encoders:
            self._ahead = self._page(last + 1)  # encoded while this page is being sent
        blocked = self._blocked()
        futures = []
        producer: KafkaProducer | None = None
        for key, value, bad, error in self._items(page):
            if bad is not None or key is None or value is None:
                # not publishable at all: parked, and its customer's later events behind it
                assert bad is not None and error is not None
                customer = str(bad.originator_id)
                self._park(customer, event_id(customer, bad.originator_version), bad.id, bad.topic, error)
                blocked.add(customer)
                continue
            customer = key.decode()
            if customer in blocked:
                self._park_message(value, WAITS_BEHIND)
                continue
            producer = producer or self._connect()
            try:
                futures.append(producer.send(self.topic, key=key, value=value, headers=self._headers))
            except POISON_ERRORS as exc:
                self._park_message(value, f"{type(exc).__name__}: {exc}")
                blocked.add(customer)
        self._await(producer, futures)
        self._record(last)
        self.stats.batches += 1
        self.stats.published += len(futures)
        self.stats.skipped += len(notifications) - len(futures)  # (parked ones included)
        self.stats.position = last
        return len(notifications)

    _headers = [("content-type", KAFKA_CONTENT_TYPE.encode())]

    def _await(self, producer: KafkaProducer | None, futures: list[Any]) -> None:
        """Wait until the broker acknowledged every message sent; KafkaError when it did not."""
        if producer is None:
            return
        producer.flush(timeout=self._flush_timeout())
        for future in futures:
            if not future.is_done:
                raise KafkaError("a message was not acknowledged in time")
            if future.failed():
                exception = future.exception
                raise exception if isinstance(exception, KafkaError) else KafkaError(str(exception))

    Item = tuple[bytes, bytes, None, None] | tuple[None, None, Notification, Exception]

    def _items(self, page: _Page) -> list[Item]:
        """The page's messages in log order; when the page cannot be encoded whole, each event alone,
        an event that cannot be encoded given as (None, None, notification, error)."""
        try:
            return [(k, v, None, None) for k, v in self._page_messages(page)]
        except (KafkaError, PersistenceError):
            raise
        except Exception:
            pass
        items: list[Relay.Item] = []
        for notification in page.notifications:
            try:
                items.extend((k, v, None, None) for k, v in self._messages([notification]))
            except PersistenceError:
                raise
            except Exception as exc:
                items.append((None, None, notification, exc))
        return items

    # ----- parked events (SPEC 9)

    @property
    def parked(self) -> ParkedStore:
        """The relay's parked events, in the ledger's database (opened on first use, tables created)."""
        store = self._store(create=True)
        assert store is not None
        return store

    def _store(self, create: bool = False) -> ParkedStore | None:
        """The parked-event store; None while its tables do not exist and ``create`` is false. Publishing
        never writes to the ledger's database but the position (and a park): a relay that has
        parked nothing creates no table, so it publishes while another writer holds the lock."""
        if self._parked is None:
            from ledger.readside import read_engine

            self._parked = ParkedStore(read_engine(self.app.settings.store), create=False)
        if not self._parked_tables:
            if create:
                self._parked.create_tables()
            elif not self._parked.has_tables():
                return None
            self._parked_tables = True
        return self._parked

    def parked_count(self) -> int | None:
        """Open parked events (None while the database cannot say: a metrics scrape leaves it out)."""
        try:
            store = self._store()
            return store.count(self.tracking_name) if store is not None else 0
        except DBAPIError:
            return None

    def _blocked(self) -> set[str]:
        store = self._store()
        return store.blocked_customers(self.tracking_name) if store is not None else set()

    def _park(self, customer: str, ident: str, position: int, event_type: str, error: BaseException | str) -> None:
        reason = error if isinstance(error, str) else f"{type(error).__name__}: {error}"
        if self.parked.park(
            self.tracking_name, event_id=ident, customer_id=customer, position=position, event_type=event_type,
            error=reason, payload=json.dumps({"position": position}), actor=self.tracking_name,
        ):
            self.stats.parked += 1
            self._log(f"relay: parked event {ident} (position {position}, {event_type}) of customer {customer}: "
                      f"{reason}")

    def _park_message(self, value: bytes, reason: str) -> None:
        envelope = json.loads(value)
        self._park(str(envelope["subject"]), str(envelope["id"]), int(envelope["ledgerposition"]),
                   str(envelope["type"]), reason)

    def retry_parked(self) -> int:
        """Publish again the parked events an operator marked for retry, in original order, each read
        afresh from the log; an event whose customer has an earlier one still parked waits. Returns
        how many were published. KafkaError when the broker did not acknowledge (they stay marked)."""
        store = self._store()
        if store is None:
            return 0
        done = 0
        failed: set[str] = set()
        for parked in store.due_retries(self.tracking_name):
            error = self._retry(parked, failed)
            if error is None:
                done += 1
                self._log(f"relay: retried parked event {parked.event_id}: published")
            else:
                failed.add(parked.customer_id)
                self._log(f"relay: retried parked event {parked.event_id}: parked again ({error})")
            self.parked.retried(parked, delivered=error is None, actor=self.tracking_name, error=error or "")
        return done

    def _retry(self, parked: Parked, failed: set[str]) -> str | None:
        if parked.customer_id in failed or self.parked.earlier_waiting(parked):
            return WAITS_BEHIND
        position = int(json.loads(parked.payload)["position"])
        notifications = self.app.recorder.select_notifications(position, 1, stop=position)
        try:
            messages = self._messages(notifications)
        except PersistenceError:
            raise
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"
        producer = self._connect()
        futures = []
        for key, value in messages:
            try:
                futures.append(producer.send(self.topic, key=key, value=value, headers=self._headers))
            except POISON_ERRORS as exc:
                return f"{type(exc).__name__}: {exc}"
        self._await(producer, futures)
        return None

    def _flush_timeout(self) -> float:
        delivery_ms = self._producer_overrides.get("delivery_timeout_ms", DEFAULT_DELIVERY_TIMEOUT_MS)
        return float(delivery_ms) / 1000 + 5

    # ----- loops

    def run(
        self,
        *,
        follow: bool = False,
        poll_interval: float = 0.2,
        stop: threading.Event | None = None,
        retry_for: float | None = 120.0,
        progress_every: float = 5.0,
    ) -> RelayStats:
        """Publish until caught up (``follow=False``) or until ``stop`` is set (``follow=True``).

        A round the broker did not acknowledge is retried from the recorded position with a growing
        pause; without ``follow`` the relay gives up after ``retry_for`` seconds of failures
        (``None``: never), with ``follow`` it never gives up.
        """
        stop = stop or threading.Event()
        failing_since: float | None = None
        pause = 0.5
        last_progress = time.monotonic()
        self._log(f"relay: publishing to {self.topic} from position {self.position()} (log head {self.head()})")
        while not stop.is_set():
            try:
                self.retry_parked()
                covered = self.publish_batch()
            except (KafkaError, PersistenceError, DBAPIError) as exc:  # (DBAPIError: the parked-event store's)
                self.stats.failures += 1
                if isinstance(exc, KafkaError):
                    self._drop_producer()
                now = time.monotonic()
                failing_since = failing_since or now
                what = "the broker did not acknowledge" if isinstance(exc, KafkaError) else "the ledger database failed"
                if not follow and retry_for is not None and now - failing_since > retry_for:
                    raise RelayError(
                        f"{what} for {retry_for:.0f} s ({type(exc).__name__}: {exc}); "
                        "the last acknowledged position is recorded, run again to resume"
                    ) from None
                self._log(
                    f"relay: {what} ({type(exc).__name__}: {exc}); "
                    f"re-publishing from the recorded position in {pause:.1f} s"
                )
                stop.wait(pause)
                pause = min(pause * 2, 5.0)
                continue
            if failing_since is not None:
                self._log(
                    f"relay: resumed at position {self.position()} after "
                    f"{time.monotonic() - failing_since:.0f} s of failed rounds"
                )
                failing_since, pause = None, 0.5
            now = time.monotonic()
            if covered and now - last_progress >= progress_every:
                last_progress = now
                self._log(
                    f"relay: position {self.stats.position} of {self.head()}, {self.stats.published} events "
                    f"published ({self.stats.rate:.0f}/s)"
                )
            if covered < self.batch_size:
                if not follow:
                    break
                stop.wait(poll_interval)
        return self.stats
