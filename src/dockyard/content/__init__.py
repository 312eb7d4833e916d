"""Content-addressed blobs: ingest, verify the digest, rename into place.

store.ContentStore      blobs under <data-root>/content/blobs/<alg>/<hex>
writer.Writer           one ingest: temp data + meta, resumable from its offset
compression             gzip/zstd detection, streaming decompression and compression
"""
