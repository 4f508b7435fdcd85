"""The fault tests use the stream fixtures (the real broker, unique topics) of the integration tests."""

from tests.integration.conftest import kafka, topic

__all__ = ["kafka", "topic"]
