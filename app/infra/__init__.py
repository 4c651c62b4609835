"""Plumbing beside or beneath the frameworks (metrics, logs, request ids, SQLite write turns, cooperative
yields); each module says what it saves and what it costs."""
