"""The shipped YANG modules, as package data ``arca.yang`` (``arca.namespace.YANG_DIR``)."""
