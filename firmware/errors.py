"""Masterbox firmware errors: one small hierarchy, builtin bases."""


class MasterboxError(Exception):
    """Base of all errors the firmware reports to users."""


class ConfigError(MasterboxError, ValueError):
    """Invalid preset or configuration; ``messages`` lists every problem."""

    def __init__(self, messages):
        self.messages = list(messages)
        super().__init__("\n".join(self.messages))


class InputError(MasterboxError, ValueError):
    """Unusable input (audio file, command-line value)."""
