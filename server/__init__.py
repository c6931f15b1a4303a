"""Sanduq's library server: the catalog, the content store and the web app."""

__version__ = "0.1.0"
