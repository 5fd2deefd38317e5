"""Staff: users (passwords, sign-in throttling), their web sessions and API tokens, and
teams of verifiers."""
