"""The real services the suite depends on are reachable (fails, never skips, when they are not)."""

import pika
import requests


def test_rabbitmq_accepts_a_connection(rabbit_url: str) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(rabbit_url))
    ch = conn.channel()
    q = ch.queue_declare("", exclusive=True).method.queue
    ch.basic_publish("", q, b"ping")
    _method, _, body = ch.basic_get(q, auto_ack=True)
    conn.close()
    assert body == b"ping"


def test_oxigraph_answers_sparql(oxigraph) -> None:
    update = {"update": "INSERT DATA { <urn:a> <urn:b> 1 }"}
    requests.post(oxigraph.update_url, data=update).raise_for_status()
    r = requests.post(
        oxigraph.query_url,
        data={"query": "SELECT ?o WHERE { <urn:a> <urn:b> ?o }"},
        headers={"Accept": "application/sparql-results+json"},
    )
    assert r.json()["results"]["bindings"][0]["o"]["value"] == "1"
