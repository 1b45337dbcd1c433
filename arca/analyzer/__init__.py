"""Analyzer: correlates observations and events into the situation of each controlled system."""
