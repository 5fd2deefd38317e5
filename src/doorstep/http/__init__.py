"""HTTP plumbing shared by the JSON API and the pages: per-request state, who is asking,
errors as RFC 9457 problem details."""
