"""The warehouse models (models/) as Dagster assets: one asset per SQL file."""
