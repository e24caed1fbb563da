"""The errors of AI backends, drawn in one place (see the package docstring for the tree).

Why classes rather than codes: the fallback chain in `cooperative` decides by type alone whether
to retry the same backend, repair, move to the next backend or stop asking AIs at all.
"""

from __future__ import annotations


class BackendError(Exception):
    """Anything that went wrong talking to an AI backend."""


class ConfigError(BackendError):
    """The backends configuration is invalid; the message names the file and the field."""


class TransientError(BackendError):
    """Worth retrying after a pause: timeouts, connection errors, 429 and 5xx answers."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class FatalError(BackendError):
    """Retrying will not help (bad key, unknown model, request refused)."""


class InvalidOutput(BackendError):
    """The backend answered, but not with something we can use; the message says what was wrong."""


class BudgetExceeded(BackendError):
    """The thread's budget is spent, or the backend repeats itself: no more AI calls this round."""
