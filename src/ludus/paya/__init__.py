"""PaYa: a P2P network of 1:1 USD-backed tokens (see docs/paya.md)."""
