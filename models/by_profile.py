"""Per-person tables, redone each build only for the people whose input rows changed.

Why: consent history, latest traits and the fixed part of each profile are computed person by
person, from that person's rows of a few tables and from small settings tables. A build changes
the rows of few people (the ones with new events or vendor rows, and those whose profiles
merged or split), yet rebuilding such a table reads every person's rows: consent history alone
sorts every consent signal ever sent. A model marked `by_profile` in its front-matter is
instead brought up to date by deleting the rows of the changed people and inserting what its
own SELECT gives for them, with every input read by person narrowed to those people.

The contract a `by_profile` model keeps (its SQL must make it true):
- every output row has a profile_id, and a person's rows depend only on that person's rows of
  the inputs that have a profile_id column (*keyed inputs*) and on the inputs that have none
  (settings tables, read whole: they are small, and a change to them rebuilds whole);
- the build's as_of enters only through the keyed inputs' own changes and through the
  declared `as_of_cuts`: input columns compared with `as_of - days_before`. When as_of moves,
  the people with a row between the two cut-offs are redone.

Which people changed comes from each keyed input's change set (models.profile_changes). The
model rebuilds whole (and publishes the difference from its previous rows) on a full refresh,
on its first build, when its columns, settings or an input's change history is not what it
saw (an input was rebuilt whole, or built twice since), and when more than WHOLE_SHARE of its
people changed, where that is cheaper. `cdp_staging.by_profile_state` keeps what each model
was built from; it is removed while the table changes, so a failed build leaves a rebuild
whole to the next.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from models import profile_changes
from models.adapter import Engine, literal, narrow_reads, quote, timestamp_literal
from models.build import BuildContext
from models.catalog import Model
from models.incremental import take_state

STATE = '"cdp_staging"."by_profile_state"'
STATE_COLUMNS = {"model": "VARCHAR", "inputs": "VARCHAR", "as_of": "TIMESTAMPTZ", "settings": "VARCHAR"}
CHANGED = quote("by_profile_changed")
BUILD_CONTEXT = "cdp_staging.build_context"  # as_of reaches the model through the declared cuts
# past this share of the table's people, deleting and inserting costs more than a rebuild
WHOLE_SHARE = 0.25


def write_by_profile(model: Model, context: BuildContext, engine: Engine) -> None:
    """Bring a by-profile model's table up to date, and publish the people it changed."""
    keyed = profile_changes.keyed_inputs(model)
    state = take_state(engine, STATE, STATE_COLUMNS, model.key)
    since = profile_changes.begin(engine, model.key)
    seen = profile_changes.versions(engine, keyed)
    settings = _settings_digest(engine, model, keyed)
    known = (not context.full_refresh and state is not None and since is not None and settings == state["settings"]
             and engine.columns(model.schema).get(model.name) == list(model.columns) and set(seen) == set(keyed))
    if known and _changed_people(engine, model, context, json.loads(state["inputs"]), seen, state["as_of"]) \
            and _redo(engine, model):
        profile_changes.add(engine, model.key, f"SELECT profile_id FROM {CHANGED}")
        profile_changes.publish(engine, model.key, since)
    else:
        profile_changes.rebuild_publishing(engine, model.key, since, model.target, list(model.columns), model.sql,
                                           context.full_refresh)
    engine.drop_table(CHANGED)
    engine.insert_rows(STATE, list(STATE_COLUMNS), [(model.key, json.dumps({k: v[0] for k, v in seen.items()}),
                                                     context.as_of, settings)])


def _settings_digest(engine: Engine, model: Model, keyed: tuple[str, ...]) -> str:
    """A digest of the inputs read whole (settings tables; the build context is left to the cuts)."""
    whole = [dep for dep in model.depends_on if dep not in keyed and dep != BUILD_CONTEXT]
    digest = hashlib.sha256()
    for dep in sorted(whole):
        rows = sorted(repr(sorted(row.items())) for row in engine.run(f"SELECT * FROM {_quoted(dep)}"))
        digest.update(f"{dep}\n{len(rows)}\n".encode() + "\n".join(rows).encode())
    return digest.hexdigest()


def _quoted(key: str) -> str:
    return ".".join(quote(part) for part in key.split("."))


def _changed_people(engine: Engine, model: Model, context: BuildContext, consumed: dict[str, str],
                    seen: dict[str, tuple[str, str | None]], as_of: datetime | None) -> bool:
    """Fill the changed-people table; False when the inputs' changes cannot be told (rebuild whole)."""
    parts = []
    for producer, (version, changes_since) in seen.items():
        before = consumed.get(producer)
        if before == version:
            continue  # nothing new from this input
        if changes_since is None or before != changes_since:
            return False  # this input rebuilt whole, or built again since we read it
        parts.append(f"SELECT profile_id FROM {profile_changes.CHANGES} WHERE producer = {literal(producer)}")
    if BUILD_CONTEXT in model.depends_on and as_of != context.as_of:
        if as_of is None:
            return False
        low, high = sorted((as_of, context.as_of))
        for cut in model.by_profile.as_of_cuts:
            shift = timedelta(days=cut.days_before)
            column = quote(cut.column)
            parts.append(f"SELECT profile_id FROM {_quoted(cut.table)} WHERE {column} > {timestamp_literal(low - shift)} "
                         f"AND {column} <= {timestamp_literal(high - shift)}")
    union = " UNION ".join(parts) or "SELECT CAST(NULL AS VARCHAR) AS profile_id WHERE 1 = 0"
    engine.replace_table(CHANGED, f"SELECT DISTINCT profile_id FROM ({union}) AS changed WHERE profile_id IS NOT NULL",
                         temporary=True)
    return True


def _redo(engine: Engine, model: Model) -> bool:
    """Delete and insert again the changed people's rows; False (nothing done) when a rebuild is cheaper."""
    changed = engine.row_count(CHANGED)
    if changed == 0:
        return True
    people = engine.scalar(f"SELECT COUNT(DISTINCT profile_id) AS n FROM {model.target}")
    if changed > WHOLE_SHARE * max(people, 1):
        return False
    engine.run(f"DELETE FROM {model.target} WHERE profile_id IN (SELECT profile_id FROM {CHANGED})")
    names = ", ".join(quote(column) for column in model.columns)
    engine.run(f"INSERT INTO {model.target} ({names}) SELECT {names} FROM ({narrowed_sql(model)}) AS redone")
    return True


def narrowed_sql(model: Model) -> str:
    """The model's SELECT with each input read by person narrowed to the changed people."""
    return narrow_reads(model.sql, {
        key: f"SELECT * FROM {_quoted(key)} AS narrowed WHERE narrowed.profile_id IN (SELECT profile_id FROM {CHANGED})"
        for key in profile_changes.keyed_inputs(model)})
