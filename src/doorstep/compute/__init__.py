"""Vectorised twins of domain rules for whole books at once (numpy, no I/O).

Each function here must give exactly what its pure domain counterpart gives for every
input; tests compare the two on generated loans.
"""
