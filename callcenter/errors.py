"""Domain errors. Each carries a one-line message a person can act on; the CLI prints
it and exits non-zero, never a traceback."""


class HotlineError(Exception):
    """Base of every error the engine reports to a person."""


class ConfigError(HotlineError):
    """A settings file, template or roster is wrong: the message names the file and key."""


class PbxError(HotlineError):
    """The Asterisk runtime cannot be provisioned, started, reached or stopped."""
