"""worksignal: honest, privacy-first measurement of how a company uses AI assistants."""

__version__ = "0.1.0"
