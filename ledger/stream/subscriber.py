"""The subscriber API: the ledger's events from Kafka as typed, deduplicated, upcast events.

Example (a downstream system counting orders)::

    from ledger.stream.schemas.models import OrderPlaced
    from ledger.stream.subscriber import SqliteCheckpointStore, Subscriber

    store = SqliteCheckpointStore("billing-state.db")
    with Subscriber("127.0.0.1:9092", "select-ledger.events", group_id="billing", store=store) as events:
        for event in events.events(until_caught_up=True):   # or events.events() to follow for ever
            if isinstance(event.data, OrderPlaced):
                print(event.customer_id, event.data.po_number, event.data.quantity, event.effective_at)

What it guarantees:

- **Consumer group.** ``group_id`` names the subscriber; Kafka shares the topic's partitions among
  the group's running members. One customer's events are on one partition, in order.
- **Where it starts.** From the stored position: the offsets saved in ``store`` when one is given,
  else the offsets committed to Kafka for the group, else the beginning of the topic. With
  ``from_beginning=True`` it replays the whole topic (and forgets what it had seen).
- **Checkpointing.** An event counts as processed when the caller asks for the next one (or calls
  ``checkpoint()`` after handling it). Every ``checkpoint_every`` processed events, on rebalance, when
  idle and on ``close()``, the positions after the processed events are stored (in ``store`` and
  committed to the group in Kafka). A crash re-delivers at most the events processed since the last
  checkpoint: at least once.
- **Deduplication.** The relay publishes at least once, so the same event can be on the topic twice.
  An event's id is ``uuid5(customer id, aggregate version)`` and one customer's events arrive in
  order, so remembering the highest aggregate version processed per customer recognises every id
  already seen (memory: one integer per customer). That memory is saved with the checkpoint when a
  ``store`` is given, so duplicates are dropped across restarts too; without one, within the process.
- **Typed, upcast events.** Each message becomes a ``StreamEvent`` whose ``data`` is the pydantic
  model of the type's current version (``ledger/stream/schemas/models.py``); messages published
  under an older version are upcast on read (``ledger/stream/upcasting.py``), never rewritten.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from kafka import ConsumerRebalanceListener, KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from ledger.ops.parked import state_pragmas
from ledger.stream.envelope import EnvelopeError, StreamEvent, decode, event_id, read_event
from ledger.stream.relay import split_servers


class SubscriberError(Exception):
    """The subscriber cannot go on; the message says why."""


class CheckpointStore(Protocol):
    """Where a subscriber keeps its positions (next offset per partition) and dedup memory."""

    def load(self, group_id: str, topic: str) -> tuple[dict[int, int], dict[str, int]]: ...

    def save(self, group_id: str, topic: str, offsets: Mapping[int, int], seen: Mapping[str, int]) -> None: ...

    def clear(self, group_id: str, topic: str) -> None: ...


class MemoryCheckpointStore:
    def __init__(self) -> None:
        self.offsets: dict[tuple[str, str], dict[int, int]] = {}
        self.seen: dict[tuple[str, str], dict[str, int]] = {}

    def load(self, group_id: str, topic: str) -> tuple[dict[int, int], dict[str, int]]:
        key = (group_id, topic)
        return dict(self.offsets.get(key, {})), dict(self.seen.get(key, {}))

    def save(self, group_id: str, topic: str, offsets: Mapping[int, int], seen: Mapping[str, int]) -> None:
        key = (group_id, topic)
        self.offsets.setdefault(key, {}).update(offsets)
        self.seen.setdefault(key, {}).update(seen)

    def clear(self, group_id: str, topic: str) -> None:
        self.offsets.pop((group_id, topic), None)
        self.seen.pop((group_id, topic), None)


class SqliteCheckpointStore:
    """Positions and dedup memory in a SQLite file, saved together in one transaction."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn = sqlite3.connect(str(self.path), timeout=30, check_same_thread=False)
        self._lock = threading.Lock()
        with self._lock, self._conn:
            state_pragmas(self._conn)
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS subscriber_offsets (group_id TEXT, topic TEXT, partition INTEGER, "
                "next_offset INTEGER, PRIMARY KEY (group_id, topic, partition))"
            )
            self._conn.execute(
                "CREATE TABLE IF NOT EXISTS subscriber_seen (group_id TEXT, topic TEXT, subject TEXT, "
                "version INTEGER, PRIMARY KEY (group_id, topic, subject))"
            )

    @property
    def connection(self) -> sqlite3.Connection:
        return self._conn

    def load(self, group_id: str, topic: str) -> tuple[dict[int, int], dict[str, int]]:
        with self._lock:
            offsets = dict(
                self._conn.execute(
                    "SELECT partition, next_offset FROM subscriber_offsets WHERE group_id=? AND topic=?",
                    (group_id, topic),
                ).fetchall()
            )
            seen = dict(
                self._conn.execute(
                    "SELECT subject, version FROM subscriber_seen WHERE group_id=? AND topic=?", (group_id, topic)
                ).fetchall()
            )
        return offsets, seen

    def save(self, group_id: str, topic: str, offsets: Mapping[int, int], seen: Mapping[str, int]) -> None:
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO subscriber_offsets VALUES (?, ?, ?, ?) ON CONFLICT (group_id, topic, partition) "
                "DO UPDATE SET next_offset = excluded.next_offset",
                [(group_id, topic, p, o) for p, o in offsets.items()],
            )
            self._conn.executemany(
                "INSERT INTO subscriber_seen VALUES (?, ?, ?, ?) ON CONFLICT (group_id, topic, subject) "
                "DO UPDATE SET version = max(version, excluded.version)",
                [(group_id, topic, s, v) for s, v in seen.items()],
            )

    def clear(self, group_id: str, topic: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM subscriber_offsets WHERE group_id=? AND topic=?", (group_id, topic))
            self._conn.execute("DELETE FROM subscriber_seen WHERE group_id=? AND topic=?", (group_id, topic))

    def close(self) -> None:
        self._conn.close()


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, subscriber: Subscriber) -> None:
        self.subscriber = subscriber

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.subscriber._on_revoked(revoked)

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self.subscriber._on_assigned(assigned)


class Subscriber:
    """Typed, deduplicated, upcast ledger events from ``topic`` for consumer group ``group_id``.

    See the module's docstring. Use as a context manager, or call ``close()``."""

    def __init__(
        self,
        bootstrap_servers: str | Sequence[str],
        topic: str,
        group_id: str,
        *,
        from_beginning: bool = False,
        store: CheckpointStore | None = None,
        checkpoint_every: int = 500,
        client_id: str | None = None,
        skip_invalid: bool = False,
        consumer_overrides: Mapping[str, Any] | None = None,
        log: Callable[[str], None] | None = None,
        on_invalid: Callable[[Any, EnvelopeError], None] | None = None,
    ) -> None:
        self.topic = topic
        self.on_invalid = on_invalid
        self.current_message: Any = None  # the Kafka message of the event being yielded
        self.group_id = group_id
        self.from_beginning = from_beginning
        self.store: CheckpointStore = store if store is not None else MemoryCheckpointStore()
        self.checkpoint_every = checkpoint_every
        self.skip_invalid = skip_invalid
        self.delivered = 0
        self.duplicates = 0
        self.invalid = 0
        self.upcast = 0
        self._log = log or (lambda _message: None)
        if from_beginning:
            self.store.clear(group_id, topic)
        stored_offsets, self._seen = self.store.load(group_id, topic)
        self._stored = {TopicPartition(topic, p): o for p, o in stored_offsets.items()}
        self._done: dict[TopicPartition, int] = {}
        self._dirty_offsets: dict[TopicPartition, int] = {}
        self._dirty_seen: dict[str, int] = {}
        self._since_checkpoint = 0
        self._replayed: set[TopicPartition] = set()
        config: dict[str, Any] = {
            "bootstrap_servers": split_servers(bootstrap_servers),
            "group_id": group_id,
            "client_id": client_id or f"select-ledger-{group_id}",
            "enable_auto_commit": False,
            "auto_offset_reset": "earliest",
            "max_poll_records": 500,
            "session_timeout_ms": 10_000,
            "heartbeat_interval_ms": 1_000,
            "fetch_max_wait_ms": 100,
            "reconnect_backoff_ms": 100,
            "reconnect_backoff_max_ms": 2_000,
            "bootstrap_timeout_ms": 10_000,
            "request_timeout_ms": 15_000,
        }
        config.update(consumer_overrides or {})
        try:
            self.consumer = KafkaConsumer(**config)
        except KafkaError as exc:
            raise SubscriberError(
                f"cannot reach Kafka at {bootstrap_servers} ({type(exc).__name__}: {exc}); "
                "is the broker running? (scripts/kafka.sh start)"
            ) from None
        self.consumer.subscribe(topics=[topic], listener=_Listener(self))
        self._closed = False

    # ----- rebalancing

    def _on_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        for tp in assigned:
            if tp in self._done:
                self.consumer.seek(tp, self._done[tp])
            elif tp in self._stored:
                self.consumer.seek(tp, self._stored[tp])
            elif self.from_beginning and tp not in self._replayed:
                self.consumer.seek_to_beginning(tp)
                self._replayed.add(tp)

    def _on_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self.checkpoint()

    # ----- positions

    def _processed(self, tp: TopicPartition, offset: int, event: StreamEvent[Any] | None) -> None:
        self._done[tp] = offset + 1
        self._dirty_offsets[tp] = offset + 1
        if event is not None:
            subject = str(event.customer_id)
            self._seen[subject] = event.aggregate_version
            self._dirty_seen[subject] = event.aggregate_version
        self._since_checkpoint += 1
        if self._since_checkpoint >= self.checkpoint_every:
            self.checkpoint()

    def checkpoint(self) -> None:
        """Store the positions after every processed event, and the dedup memory."""
        if not self._dirty_offsets:
            return
        offsets, seen = dict(self._dirty_offsets), dict(self._dirty_seen)
        self.store.save(self.group_id, self.topic, {tp.partition: o for tp, o in offsets.items()}, seen)
        for tp, o in offsets.items():
            self._stored[tp] = o
        self._dirty_offsets.clear()
        self._dirty_seen.clear()
        self._since_checkpoint = 0
        try:
            self.consumer.commit({tp: OffsetAndMetadata(o, "", -1) for tp, o in offsets.items()})
        except KafkaError as exc:
            # The store holds the position; the group's committed offsets only lag behind.
            self._log(f"subscriber: committing offsets to Kafka failed ({type(exc).__name__}: {exc})")

    def is_duplicate(self, event: StreamEvent[Any]) -> bool:
        return event.aggregate_version <= self._seen.get(str(event.customer_id), 0)

    def lag(self) -> int:
        """Messages on the assigned partitions not yet processed, from the last fetch responses
        (offset differences within a partition; no request to the broker)."""
        total = 0
        for tp in self.consumer.assignment():
            high = self.consumer.highwater(tp)
            if high is None:
                continue
            done = self._done.get(tp, self._stored.get(tp))
            if done is None:
                continue  # nothing processed or stored there yet: the fetch position is not known
            total += max(0, int(high) - int(done))
        return total

    def _caught_up(self) -> bool:
        assignment = self.consumer.assignment()
        if not assignment:
            return False
        ends = self.consumer.end_offsets(list(assignment))
        return all(self.consumer.position(tp) >= ends[tp] for tp in assignment)

    # ----- reading

    def _parse(self, message: Any) -> StreamEvent[Any] | None:
        try:
            envelope = decode(message.value)
            event = read_event(envelope, message.topic, message.partition, message.offset)
            if event.id != event_id(event.customer_id, event.aggregate_version):
                raise EnvelopeError(f"id: {event.id} is not the id of this customer's event {event.aggregate_version}")
        except EnvelopeError as exc:
            where = f"{message.topic}[{message.partition}]@{message.offset}"
            if self.on_invalid is not None:
                self.invalid += 1
                self.on_invalid(message, exc)
                return None
            if not self.skip_invalid:
                raise SubscriberError(f"message {where} is not a ledger event: {exc}") from None
            self.invalid += 1
            self._log(f"subscriber: skipped message {where}: {exc}")
            return None
        return event

    def events(
        self,
        *,
        until_caught_up: bool = False,
        idle_timeout: float | None = None,
        stop: threading.Event | None = None,
        poll_timeout: float = 0.5,
        assignment_timeout: float = 30.0,
        on_idle: Callable[[], None] | None = None,
    ) -> Iterator[StreamEvent[Any]]:
        """Yield events in partition order, duplicates left out.

        Stops when ``until_caught_up`` and every assigned partition is read to its end as of that
        moment, after ``idle_timeout`` seconds without a message, or when ``stop`` is set; else it
        follows the topic for ever.
        """
        started = time.monotonic()
        last_message = time.monotonic()
        batches: dict[TopicPartition, list[Any]] = {}
        try:
            while stop is None or not stop.is_set():
                batches = {}
                try:
                    batches = self.consumer.poll(timeout_ms=int(poll_timeout * 1000))
                except KafkaError as exc:
                    self._log(f"subscriber: poll failed ({type(exc).__name__}: {exc}); retrying")
                    time.sleep(poll_timeout)
                    continue
                if not batches:
                    self.checkpoint()
                    if on_idle is not None:
                        on_idle()
                    now = time.monotonic()
                    if until_caught_up:
                        if self._caught_up():
                            return
                        if not self.consumer.assignment() and now - started > assignment_timeout:
                            raise SubscriberError(
                                f"no partition of topic {self.topic!r} was assigned to group {self.group_id!r} "
                                f"within {assignment_timeout:.0f} s; does the topic exist?"
                            )
                    if idle_timeout is not None and now - last_message >= idle_timeout:
                        return
                    continue
                last_message = time.monotonic()
                for tp, messages in batches.items():
                    for message in messages:
                        event = self._parse(message)
                        if event is None:
                            self._processed(tp, message.offset, None)
                            continue
                        if self.is_duplicate(event):
                            self.duplicates += 1
                            self._processed(tp, message.offset, None)
                            continue
                        if event.upcast:
                            self.upcast += 1
                        self.delivered += 1
                        self.current_message = message
                        yield event
                        self._processed(tp, message.offset, event)
        finally:
            self._rewind(batches)

    def _rewind(self, batches: Mapping[TopicPartition, list[Any]]) -> None:
        """After the caller stopped mid-batch: the next read starts after the last processed event."""
        if self._closed:
            return
        assignment = self.consumer.assignment()
        for tp, messages in batches.items():
            if messages and tp in assignment:
                self.consumer.seek(tp, max(self._done.get(tp, -1), messages[0].offset))

    def __iter__(self) -> Iterator[StreamEvent[Any]]:
        return self.events()

    # ----- life cycle

    def close(self) -> None:
        if self._closed:
            return
        try:
            self.checkpoint()
        finally:
            self._closed = True
            self.consumer.close(autocommit=False, timeout_ms=5_000)

    def __enter__(self) -> Subscriber:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
