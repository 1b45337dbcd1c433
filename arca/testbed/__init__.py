"""Testbed: the emergency-support scenario as an emulated NFVI (OpenStack and OSM HTTP APIs)."""
