"""Command models, authorization and the handlers that map commands onto the aggregates."""
