"""Identity layer: the identity graph, its guards, stable profile ids (schema cdp).

Owns the SQL models in this folder and the Python runners they name. May import
headwater (kernel) and models.adapter/catalog/build/config; never pipelines or sources.
"""
