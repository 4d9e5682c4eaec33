"""The 12345 citizen hotline call-centre engine on Asterisk."""

__version__ = "0.1.0"
