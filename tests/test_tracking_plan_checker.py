"""The compiled checker agrees with JSON Schema on the edge cases its fast path skips."""

from __future__ import annotations

from sources.tracking_plan.config import SourcePlanConfig
from sources.tracking_plan.enforce import Enforcer
from sources.tracking_plan.plan import parse_plan

PLAN = {"track": {"E": {"properties": {
    "n": {"type": "integer"}, "x": {"type": "number"}, "flag": {"type": "boolean"},
    "either": {"type": ["string", "null"]}, "size": {"enum": ["S", "M"]}, "sku": {"type": "string", "pattern": "^s-"}}}}}


def problems(**properties) -> list[tuple]:
    enforcer = Enforcer(parse_plan(PLAN, "test"), SourcePlanConfig(plan="p.yml"))
    return enforcer.violations({"type": "track", "event": "E", "properties": properties})


def test_numbers_booleans_and_nulls_follow_json_schema():
    assert problems(n=3, x=3, flag=False, either=None) == []
    assert problems(n=3.0) == []  # JSON Schema: 3.0 is an integer
    assert problems(n=3.5) == [("type_mismatch", "n", "expected integer, got number")]
    assert problems(n=True) == [("type_mismatch", "n", "expected integer, got boolean")]
    assert problems(x=False) == [("type_mismatch", "x", "expected number, got boolean")]
    assert problems(flag=1) == [("type_mismatch", "flag", "expected boolean, got integer")]
    assert problems(either=2) == [("type_mismatch", "either", "expected string or null, got integer")]


def test_enums_and_patterns():
    assert problems(size="M", sku="s-1") == []
    assert problems(size=["S"]) == [("type_mismatch", "size", "is not one of the allowed values (S, M)")]
    assert problems(sku="t-1") == [("type_mismatch", "sku", "does not match the pattern '^s-'")]
