"""Errors a user can act on. Each message is one sentence that says what to do."""


class AssistantError(Exception):
    """Base class: the CLI and UI show `str(error)` and never a stack trace."""


class IndexLockedError(AssistantError):
    pass


class IndexMismatchError(AssistantError):
    pass


class BackendUnavailableError(AssistantError):
    pass
