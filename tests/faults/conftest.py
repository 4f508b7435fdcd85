"""The fault tests use the stream fixtures (the real broker, unique topics) of the test kit."""

from tests.kit.kafka import kafka, topic

__all__ = ["kafka", "topic"]
