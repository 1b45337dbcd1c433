"""ARCA: the autonomic resource controller's shared spine (messages, bus, knowledge base, settings, CLI)."""

__version__ = "0.1.0"
