"""Errors a user can act on. Each message is one sentence that says what to do."""


class AssistantError(Exception):
    """Base class: the CLI and UI show `str(error)` and never a stack trace."""


class IndexLockedError(AssistantError):
    pass


class IndexMismatchError(AssistantError):
    pass


class IndexUnavailableError(AssistantError):
    """The index folder cannot be used: missing, not a folder, unwritable, full, damaged."""


class IndexReadOnlyError(IndexUnavailableError):
    pass


class CorpusNotFoundError(AssistantError, FileNotFoundError):
    pass


class SettingsError(AssistantError):
    """One sentence per bad setting, one per line."""


class BackendUnavailableError(AssistantError):
    pass


class DocumentUnavailableError(AssistantError, ValueError):
    """An indexed document that can no longer be read safely (swapped for a link leaving the
    folder, a FIFO, unparseable). Also a ValueError: a reader that skips unreadable documents
    (verification, leads) skips it."""
