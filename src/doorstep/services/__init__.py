"""Use cases. They take a session, flush and never commit: the entry point commits."""
