"""Plumbing that bypasses a framework layer or works around a runtime; each module says what it costs."""
