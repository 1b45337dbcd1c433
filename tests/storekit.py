"""The SPARQL stores the tests run on, as real servers: Oxigraph and Apache Jena Fuseki.

One kit for every suite that needs a store endpoint (store tests, the live loop, resilience): the
servers themselves are ``arca.app.cli.stores`` (the same classes ``arca bench --store`` starts); this
module adds what only pytest needs. Fuseki runs the shipped ``ops/fuseki/config.ttl`` with only the
two paths compose mounts moved (``arca.app.cli.stores.fuseki_config``).
"""

from __future__ import annotations

import pytest

from arca.app.cli.stores import (
    FUSEKI_CONFIG,
    FUSEKI_DB_PATH,
    FUSEKI_PASSWD_PATH,
    STORE_KINDS,
    FusekiServer,
    OxigraphServer,
    SparqlEndpoints,
    StoreServer,
    StoreUnavailable,
    free_port,
    fuseki_config,
    make_server,
)

STORE_PARAMS = [pytest.param(kind, marks=getattr(pytest.mark, kind)) for kind in STORE_KINDS]
"""``@pytest.mark.parametrize("store_kind", STORE_PARAMS)``: a test once per store, marked with its kind."""

__all__ = ["FUSEKI_CONFIG", "FUSEKI_DB_PATH", "FUSEKI_PASSWD_PATH", "STORE_KINDS", "STORE_PARAMS",
           "FusekiServer", "OxigraphServer", "SparqlEndpoints", "StoreServer", "StoreUnavailable",
           "free_port", "fuseki_config", "make_server"]
