"""Snapshots: image layers unpacked once into overlay-ready folders, stacked per container.

overlay.OverlaySnapshotter   layer folders by chain id, short links, container upper/work dirs
unpack.apply_layer           an OCI layer tar into a folder (whiteouts -> overlay's), hostile
                             entries refused
diff                         a container's changes (Docker's Kind 0/1/2) and its layer tar
mount                        overlay mounts (new mount API with lowerdir+, or the classic one)
"""
