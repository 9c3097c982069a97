"""Patron: an open-source loyalty engine for online shops."""

__version__ = "0.1.0"
