"""Staff: users (passwords, API tokens, sign-in throttling) and teams of verifiers."""
