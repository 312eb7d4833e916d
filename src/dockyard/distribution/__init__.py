"""Registry client (OCI distribution spec, Docker token auth).

endpoint     where a registry is reached: plain HTTP on loopback, HTTPS elsewhere, never
             the internet from an offline host
auth         WWW-Authenticate challenges, Basic credentials, Bearer tokens
client       RegistryClient: ping, resolve (Accept negotiation, platform from an index),
             fetch blobs (ranged, verified), push blobs (monolithic or chunked) and manifests
"""
