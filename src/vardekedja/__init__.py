"""Värdekedja: an event-sourced marketplace for public-space furniture."""

__version__ = "0.1.0"
