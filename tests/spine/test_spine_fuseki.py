"""Apache Jena Fuseki as compose runs it: the shipped ``ops/fuseki/config.ttl`` on Fuseki Main (the
version ``ops/fuseki/pom.xml`` names), TDB2 on disk, basic auth from the compose secret's file.

The store-independent behaviour (queries, updates, Graph Store Protocol, hostile names, durable
writes through an outage, the live-loop fault table) runs on Fuseki and Oxigraph alike in the other
suites (``sparql_store``/``STORE_PARAMS``); this file holds what only Fuseki's configuration decides:
who may read and write, the health check compose uses, what TDB2 keeps across a kill, and that a
request of several updates is one transaction on both stores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import rdflib
import requests
from rdflib.compare import graph_diff, to_isomorphic

from arca.app.cli.stores import CHECKOUT
from arca.app.settings import KbSettings
from arca.kb import IRI, KnowledgeBaseError
from arca.kb.sparql import SparqlKnowledgeBase
from tests.storekit import (
    FUSEKI_CONFIG,
    FUSEKI_DB_PATH,
    FUSEKI_PASSWD_PATH,
    FusekiServer,
    SparqlEndpoints,
    fuseki_config,
)

INSERT = "INSERT DATA { <urn:arca:test:a> <urn:arca:test:p> 1 }"
ASK = "ASK { <urn:arca:test:a> <urn:arca:test:p> 1 }"


def asks(ep: SparqlEndpoints, text: str = ASK) -> bool:
    r = requests.post(ep.query_url, data={"query": text}, auth=ep.auth, timeout=10,
                      headers={"Accept": "application/sparql-results+json"})
    r.raise_for_status()
    return bool(r.json()["boolean"])


def test_the_test_config_is_the_shipped_one_with_only_the_two_mounted_paths_moved(tmp_path: Path) -> None:
    shipped = rdflib.Graph().parse(FUSEKI_CONFIG, format="turtle")
    moved = rdflib.Graph().parse(data=fuseki_config(tmp_path / "pw", tmp_path / "db"), format="turtle",
                                 publicID=FUSEKI_CONFIG.as_uri())
    _, only_shipped, only_moved = graph_diff(to_isomorphic(shipped), to_isomorphic(moved))
    assert sorted(str(o) for _, _, o in only_shipped) == sorted([FUSEKI_PASSWD_PATH, FUSEKI_DB_PATH])
    assert sorted(str(o) for _, _, o in only_moved) == sorted([str(tmp_path / "pw"), str(tmp_path / "db")])


@pytest.mark.fuseki
def test_every_admin_endpoint_needs_the_password_ping_and_compact_included(fuseki: SparqlEndpoints) -> None:
    server = fuseki.base.rsplit("/", 1)[0]
    assert requests.get(server + "/$/ping", auth=fuseki.auth, timeout=5).status_code == 200  # health check
    for auth in (None, ("arca", "wrong")):
        assert requests.get(server + "/$/ping", auth=auth, timeout=5).status_code == 401
        compact = requests.post(server + "/$/compact/arca?deleteOld=true", auth=auth, timeout=5)
        assert compact.status_code == 401
        assert requests.get(server + "/$/tasks", auth=auth, timeout=5).status_code == 401
    for admin in ("/$/datasets", "/$/server", "/$/stats", "/$/backup/arca"):
        assert requests.get(server + admin, timeout=5).status_code in (401, 403, 404), admin


@pytest.mark.fuseki
@pytest.mark.parametrize("auth", [None, ("arca", "wrong"), ("someone", "else")],
                         ids=["no-credentials", "wrong-password", "unknown-user"])
def test_without_the_password_nothing_is_read_or_written(fuseki: SparqlEndpoints,
                                                         auth: tuple[str, str] | None) -> None:
    fuseki.update(INSERT)
    turtle = {"Content-Type": "text/turtle"}
    attempts = [
        requests.post(fuseki.query_url, data={"query": ASK}, auth=auth, timeout=10),
        requests.get(fuseki.query_url, params={"query": ASK}, auth=auth, timeout=10),
        requests.post(fuseki.update_url, data={"update": "DROP ALL"}, auth=auth, timeout=10),
        requests.post(fuseki.update_url, data=b"DROP ALL", auth=auth, timeout=10,
                      headers={"Content-Type": "application/sparql-update"}),
        requests.get(fuseki.store_url, params={"default": ""}, auth=auth, timeout=10),
        requests.put(fuseki.store_url, params={"default": ""}, data=b"<urn:x> <urn:y> <urn:z> .",
                     headers=turtle, auth=auth, timeout=10),
        requests.delete(fuseki.store_url, params={"default": ""}, auth=auth, timeout=10),
        requests.post(fuseki.base, data={"update": "DROP ALL"}, auth=auth, timeout=10),  # dataset root
    ]
    assert [r.status_code for r in attempts] == [401] * len(attempts)
    assert asks(fuseki)  # nothing was dropped
    assert not asks(fuseki, "ASK { <urn:x> ?p ?o }")


@pytest.mark.fuseki
def test_the_client_names_the_endpoint_and_401_on_a_wrong_password(fuseki: SparqlEndpoints) -> None:
    kb = SparqlKnowledgeBase(KbSettings.model_validate(fuseki.kb_fields(password="wrong")))
    try:
        with pytest.raises(KnowledgeBaseError, match=rf"{fuseki.query_url}: HTTP 401"):
            kb.ask("ASK { ?s ?p ?o }")
        with pytest.raises(KnowledgeBaseError, match=rf"{fuseki.update_url}: HTTP 401"):
            kb.update(INSERT)
        with pytest.raises(KnowledgeBaseError, match=r"/arca/data.*HTTP 401"):
            kb.load_turtle("<urn:x> <urn:y> <urn:z> .")
    finally:
        kb.session.close()
    assert not asks(fuseki)


@pytest.mark.fuseki
def test_the_client_authenticates_with_the_compose_secret_file(fuseki: SparqlEndpoints,
                                                               tmp_path: Path) -> None:
    secret = tmp_path / "fuseki_password"  # compose: secrets/fuseki_password, the bare password
    secret.write_text(f"{fuseki.password}\n")
    kb = SparqlKnowledgeBase(KbSettings.model_validate(
        fuseki.kb_fields(password=None, password_file=str(secret))))
    try:
        kb.update(INSERT)
        assert kb.ask(ASK)
        assert kb.load_turtle("<urn:x> <urn:y> <urn:z> .", "urn:arca:test:graph") == 1
        assert kb.replace_graph("<urn:x> <urn:y> <urn:w> .", "urn:arca:test:graph") == 1
        assert kb.query("SELECT ?o WHERE { GRAPH <urn:arca:test:graph> { ?s ?p ?o } }") == [{"o": "urn:w"}]
    finally:
        kb.close()


@pytest.mark.fuseki
def test_tdb2_keeps_every_acknowledged_update_across_a_kill_9(tmp_path: Path) -> None:
    server = FusekiServer(tmp_path).start()
    try:
        ep = server.endpoints
        kb = SparqlKnowledgeBase(KbSettings.model_validate(ep.kb_fields(write_flush_interval_s=0.01)))
        for i in range(300):
            kb.submit("INSERT DATA { $s <urn:arca:test:n> $i }", s=IRI(f"urn:arca:test:{i}"), i=i)
        kb.flush(60)  # every batch acknowledged by the server
        kb.close()
        server.kill()
        server.start()
        rows = ep.select("SELECT (COUNT(*) AS ?n) WHERE { ?s <urn:arca:test:n> ?i }")
        assert int(rows[0]["n"]["value"]) == 300
    finally:
        server.stop()


def _count(ep: Any) -> int:
    return int(ep.select("SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }")[0]["n"]["value"]) + \
        int(ep.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")[0]["n"]["value"])


def test_a_request_of_several_updates_is_one_transaction(sparql_store: SparqlEndpoints) -> None:
    """The durable writer joins updates into one request: when one fails while running (not parsing),
    the server applies none of them (ARQ on TDB2 and Oxigraph alike: HTTP 500, nothing kept), so the
    writer may retry or split the batch without having applied half of it.

    (The stores differ on other run-time errors, none of which ARCA's updates can meet -- it sends only
    ``INSERT DATA``/``DELETE WHERE``: ``CREATE GRAPH`` of an existing graph fails on Oxigraph and is a
    no-op on Fuseki; ``ADD`` from a missing graph fails on Fuseki and is a no-op on Oxigraph.)"""
    kb = SparqlKnowledgeBase(KbSettings.model_validate(sparql_store.kb_fields()))
    try:
        kb.update("INSERT DATA { GRAPH <urn:arca:test:g> { <urn:a> <urn:p> 0 } }")
        before = _count(sparql_store)
        batch = " ;\n".join([INSERT, "INSERT DATA { GRAPH <urn:arca:test:g> { <urn:b> <urn:p> 2 } }",
                             "LOAD <http://127.0.0.1:9/nothing-here>"])  # fails when it runs, not parsed
        with pytest.raises(KnowledgeBaseError, match=r"HTTP 500"):
            kb.update(batch)
        assert not asks(sparql_store)
        assert _count(sparql_store) == before
    finally:
        kb.close()


def test_compose_runs_the_fuseki_the_tests_run() -> None:
    """compose.yaml's Fuseki is built from the pom the tests resolve, runs the config they start, and
    mounts the password file and the TDB2 volume where that config looks for them."""
    import yaml

    compose = yaml.safe_load((CHECKOUT / "compose.yaml").read_text())
    fuseki = compose["services"]["fuseki"]
    assert fuseki["build"] == "./ops/fuseki"
    dockerfile = (CHECKOUT / "ops" / "fuseki" / "Dockerfile").read_text()
    assert "COPY pom.xml" in dockerfile and "dependency:copy-dependencies" in dockerfile
    assert "org.apache.jena.fuseki.main.cmds.FusekiMainCmd" in dockerfile
    pom = (CHECKOUT / "ops" / "fuseki" / "pom.xml").read_text()
    version = pom.split("<jena.version>")[1].split("</jena.version>")[0]
    assert fuseki["image"] == f"arca-fuseki:{version}"
    assert fuseki["command"] == ["--conf", "/fuseki/config.ttl"]
    assert "./ops/fuseki/config.ttl:/fuseki/config.ttl:ro" in fuseki["volumes"]
    assert any(v.endswith(":" + str(Path(FUSEKI_DB_PATH).parent)) for v in fuseki["volumes"])
    assert fuseki["secrets"] == [Path(FUSEKI_PASSWD_PATH).name]  # mounted at /run/secrets/<name>
    assert "/$$/ping" in " ".join(fuseki["healthcheck"]["test"])


@pytest.mark.fuseki
def test_the_documented_backup_and_restore_give_back_every_quad(fuseki: SparqlEndpoints,
                                                                tmp_path: Path) -> None:
    """docs/ops.md: an online dump over the Graph Store Protocol (one read transaction), restored with
    tdb2.tdbloader into a new dataset that Fuseki then serves, holds exactly what the store held."""
    import subprocess

    fuseki.update('INSERT DATA { <urn:a> <urn:p> 1 . GRAPH <urn:g> { <urn:b> <urn:p> "x\\ny" } }')
    dump = requests.get(fuseki.store_url, auth=fuseki.auth, timeout=30,
                        headers={"Accept": "application/n-quads"})
    assert dump.status_code == 200
    (tmp_path / "arca.nq").write_bytes(dump.content)
    restored = FusekiServer(tmp_path / "restored")
    database = restored.directory / "databases" / "arca"
    load = subprocess.run(["java", "-cp", restored.classpath, "tdb2.tdbloader", "--loc", str(database),
                           str(tmp_path / "arca.nq")], capture_output=True, text=True, timeout=300)
    assert load.returncode == 0, load.stderr
    with restored:
        back = requests.get(restored.endpoints.store_url, auth=restored.endpoints.auth, timeout=30,
                            headers={"Accept": "application/n-quads"})
    import pyoxigraph as ox

    original = set(ox.parse(dump.content, format=ox.RdfFormat.N_QUADS))
    copy = set(ox.parse(back.content, format=ox.RdfFormat.N_QUADS))
    assert len(original) == 2 and copy == original
