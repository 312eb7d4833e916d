"""Docker Engine API client over a Unix socket or TCP + TLS."""
