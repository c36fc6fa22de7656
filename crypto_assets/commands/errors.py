"""Errors in what the user typed on the command line."""


class UsageError(ValueError):
    """A command-line argument the command cannot use; the message names it."""
