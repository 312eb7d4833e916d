"""Snapshotters: prepare/commit/remove return mounts and never mount themselves; overlay."""
