"""Savings challenges for chamas, SACCOs and MFIs (spec 001)."""
