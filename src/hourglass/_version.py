"""The package's version, at the bottom so that what saves a model can stamp it without importing
the public facade (which sits above every layer)."""

__version__ = "0.2.0"
