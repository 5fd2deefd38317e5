"""batch services."""
