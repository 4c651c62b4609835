"""Plumbing beside or beneath the frameworks, each module saying what it saves and what it costs: the JSON encoder,
rate-limit storage, security headers, request ids and metrics, logs, background loops, session events, SQLite write
turns, cooperative yields, the request-body deadline and the app's Flask class."""
