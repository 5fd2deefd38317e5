"""conduct services."""
