"""Containers and their lifecycle, metadata, monitor, logs, events, volumes."""
