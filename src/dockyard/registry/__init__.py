"""The registry server: API routes and error codes, handlers, storage drivers, auth."""
