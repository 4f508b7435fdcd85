"""Operations: metrics, lag of the log's consumers, parked events, correlation ids and logs."""
