"""The daily batch: every step of a business day, in order, each in its own transaction."""
