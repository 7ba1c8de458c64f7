"""Background jobs on Procrastinate: the app, job/periodic registries, in-transaction defer,
workers (in-process or `ludus worker`) and a deterministic runner for tests."""
