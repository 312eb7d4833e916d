"""Accounts, permissions, Docker token auth, login throttling."""
