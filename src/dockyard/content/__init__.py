"""Content-addressed blobs: ingest, verify the digest, rename into place."""
