"""Dagster definitions, one folder per pipeline step, loaded by load_from_defs_folder."""
