"""Sportello: an open-source help desk."""

__version__ = "0.1.0"
