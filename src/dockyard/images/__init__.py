"""The image store: pull, push, unpack layers, save/load/import/export."""
