"""Helpers the defs/ folders share: the project's policies, the Headwater resource, the dlt translator.

Kept apart from defs/ so each defs module stays declarative. May import `headwater`,
`pipelines`, `sources`; nothing here defines assets by itself.
"""
