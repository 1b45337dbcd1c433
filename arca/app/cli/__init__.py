"""The ``arca`` command line."""
