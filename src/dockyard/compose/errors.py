"""Errors of the compose commands (all :class:`~dockyard.errors.DockyardError`)."""

from __future__ import annotations

from dockyard.errors import DockyardError, InvalidArgument, NotFound


class ComposeError(DockyardError):
    """A step of a command failed; the message names the resource and what the engine said."""


class ExternalMissing(NotFound):
    pass


class NoSuchService(InvalidArgument):
    pass


class WaitFailed(ComposeError):
    """A dependency condition or ``--wait`` could not be met (unhealthy, exited, timed out)."""
