"""Reverse ETL: sync warehouse models and audiences to ad, email and analytics tools.

Owns the sync engine (diff in the warehouse, batch, retry, log), the shared identifier
normalization, one module per destination type and their local emulators.
May import headwater (kernel) and sources; never pipelines, models or dagster_project.
"""
