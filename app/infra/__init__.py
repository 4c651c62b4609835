"""Plumbing beside the frameworks: metrics, logging and the request id (each module says what it costs)."""
