"""Authentication of HTTP callers: OpenID Connect ID tokens (R21, R22) and API keys (R23)."""
