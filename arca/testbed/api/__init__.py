"""Emulated HTTP APIs (Flask apps): Keystone, Nova, Glance, Gnocchi, Octavia, OSM NBI, HAProxy stats."""
