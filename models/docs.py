"""The analyst-facing documentation of every model table, from the models' front-matter.

Why generated: the descriptions live beside the SQL, so `headwater docs`, the Dagster UI
and the files cannot disagree.
"""

from __future__ import annotations

from models.catalog import Model, catalog


def render_markdown(models: tuple[Model, ...] | None = None, include_staging: bool = False) -> str:
    lines: list[str] = []
    for model in models or catalog():
        if model.schema != "cdp" and not include_staging:
            continue
        lines += [f"## {model.key}", "", model.description, "", "| column | description |", "| --- | --- |"]
        lines += [f"| `{name}` | {text} |" for name, text in model.columns.items()]
        lines.append("")
    return "\n".join(lines)
