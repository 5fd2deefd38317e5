"""What goes to the lender.

(The events themselves are written by `services.outbox`, below every workflow package.)

- `delivery`: the worker posting due deliveries (claim, post, record; retries, dead).
- `endpoints`: the webhook endpoints and the dead letters an administrator handles.
- `feed`: the feedback feed (API pages, the daily file).
- `feedback`: the names above as their callers import them.
- `dossier` (rendering, cache) and `dossier_blocks` (what it shows): the case's PDF.
- `exports`: whole tables for analysts, without personal data.
"""
