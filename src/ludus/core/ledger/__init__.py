"""Double-entry ledger: assets, accounts, transactions, holds (see service.py)."""
