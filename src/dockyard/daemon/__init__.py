"""The Docker Engine API over aiohttp: one handler module per resource."""
