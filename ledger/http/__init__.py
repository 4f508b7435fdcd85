"""The HTTP API (SPEC section 6): one ASGI application built by :func:`ledger.http.app.create_app`."""
