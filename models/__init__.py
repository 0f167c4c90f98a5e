"""Warehouse models: SQL files by layer (staging, identity, ...), their catalog and runner.

May import headwater (kernel) only; dagster_project and the CLI import this package.
"""
