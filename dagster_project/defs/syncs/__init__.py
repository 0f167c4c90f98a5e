"""Reverse-ETL syncs as assets: one per configured sync, downstream of its audience or model."""
