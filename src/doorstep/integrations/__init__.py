"""Adapters to the outside world, each implementing a port of domain/ports.py."""
