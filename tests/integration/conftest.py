"""Fixtures of the integration tests: the stream's broker and topics (``tests.kit.kafka``)."""

from tests.kit.kafka import kafka, own_kafka, topic
from tests.kit.notify import smtp

__all__ = ["kafka", "own_kafka", "smtp", "topic"]
