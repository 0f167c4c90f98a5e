"""Profiles layer (schema cdp): profiles, consent, built-in and configured computed traits, cdp.events.

Owns the SQL models in this folder, the `traits` section of headwater.yml (config.py) and the
Python runners the models name. May import headwater (kernel) and models.adapter/catalog/build;
never pipelines or sources. Python assembles SQL only where tables/columns are discovered at build time.
"""
