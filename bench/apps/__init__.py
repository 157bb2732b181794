"""ASGI apps under test. Each module exposes `app` (plain) and `upstream_app` (50 ms upstream)."""
