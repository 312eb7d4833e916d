"""Leaf helpers: atomic files, thin syscalls, mountinfo. Standard library only."""
