"""Errors a user can act on. Each message is one sentence that says what to do."""


class AssistantError(Exception):
    """Base class: the CLI and UI show `str(error)` and never a stack trace."""


class IndexLockedError(AssistantError):
    pass


class IndexMismatchError(AssistantError):
    pass


class BackendUnavailableError(AssistantError):
    pass


class DocumentUnavailableError(AssistantError, ValueError):
    """An indexed document that can no longer be read safely (swapped for a link leaving the
    folder, a FIFO, unparseable). Also a ValueError: a reader that skips unreadable documents
    (verification, leads) skips it."""
