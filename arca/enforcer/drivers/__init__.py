"""Drivers: one thin client per infrastructure (OpenStack, OSM) behind the ``ServantDriver`` seam."""
