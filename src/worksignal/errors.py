"""Typed errors, each saying what the user should do next; rendered once at the CLI/HTTP edge."""

from __future__ import annotations


class WorksignalError(Exception):
    """Base class: `str(error)` is a complete message for a person, with a next step."""

    exit_code = 1


class UsageError(WorksignalError):
    """The command was called in a way that cannot work (bad option, missing file)."""

    exit_code = 2


class NothingReadError(WorksignalError):
    """No record at all could be read from the given inputs."""

    exit_code = 3


class StoreError(WorksignalError):
    """The store cannot be opened, is locked, or is newer than this version of worksignal."""

    exit_code = 4


class PseudonymKeyError(WorksignalError):
    """The pseudonymisation key is missing or unreadable."""

    exit_code = 5
