"""The ledger application: configuration, event store, command line (and, later, stream relay)."""
