"""M-Pesa Daraja behind an adapter: the real HTTP client and a sandbox that fires callbacks."""
