"""Webhooks: verified provider callbacks in (de-duplicated, processed in jobs) and signed,
retried deliveries of events out to tenant-subscribed endpoints."""
