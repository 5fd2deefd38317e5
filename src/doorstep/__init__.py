"""Doorstep: home-visit verification of overdue consumer credit loans."""

__version__ = "0.1.0"
