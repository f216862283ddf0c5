"""chaoslab: a chaos-engineering testbed for a national social-security portal."""

__version__ = "0.1.0"
