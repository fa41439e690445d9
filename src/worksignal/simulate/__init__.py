"""A synthetic organisation for the demo, tests and validation of every figure."""

from worksignal.simulate.organisation import simulate

__all__ = ["simulate"]
