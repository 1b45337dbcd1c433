"""Decider: the anticipation algorithm (SVR MSA floor + reactive policy check) and baselines."""
