"""Staging layer (schema cdp_staging): raw source rows made uniform for the identity graph.

Owns the SQL models in this folder and the Python runners they name. May import
headwater (kernel) and models.adapter/catalog/build/config; never pipelines or sources.
"""
