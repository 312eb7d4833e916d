"""Compose files to Engine API calls, in the client's process."""
