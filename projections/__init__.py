"""Read models built from the events (see the projections issue)."""
