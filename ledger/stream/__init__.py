"""The event stream on Kafka: relay, subscriber API, notifications consumer."""
