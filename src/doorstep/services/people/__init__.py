"""people services."""
