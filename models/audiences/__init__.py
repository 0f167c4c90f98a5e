"""Audiences layer: named audiences from headwater.yml compiled to SQL, their members and history.

Owns the `audiences:` config model, the one compiler from conditions to SQL, the SQL models
and runners in this folder. May import headwater (kernel) and models.adapter/catalog/build;
never pipelines, sources or destinations.
"""
