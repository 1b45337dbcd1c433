"""Enforcer: level-triggered reconciliation of desired servants through OpenStack and OSM."""
