"""Domain events: a transactional outbox (spec 000 §10.3), handlers per event type run by
Procrastinate jobs, at-least-once with per-handler idempotency, retries and dead letters."""
