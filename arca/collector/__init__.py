"""Collector: adapters turning detector events, CAP alerts and telemetry into typed RDF messages."""
