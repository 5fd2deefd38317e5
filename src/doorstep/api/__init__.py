"""The JSON API (FastAPI): thin routes over the services; OpenAPI at /docs."""
