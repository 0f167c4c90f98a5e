"""Conversions layer: purchases de-duplicated across sources (cdp.conversions) and their attribution.

Owns the SQL models in this folder, the `conversions:` section of headwater.yml and the
runners that gather purchase rows and page views from whatever raw tables exist. May import
headwater (kernel) and models.adapter/catalog/build; never pipelines, sources or destinations.
"""
