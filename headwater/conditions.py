"""The property comparison of the condition language, shared by audiences and event streams.

Why in the kernel: audiences compile a comparison to SQL over warehouse columns
(models.audiences.compiler), while streams and workflows test the same comparison on one
event in flight (destinations.streams). One model and one set of operators keep the two
languages the same language: a condition a marketer wrote for an audience reads the same
in a stream filter.
Imports pydantic only.
"""

from __future__ import annotations

import math
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

Scalar = Union[bool, int, float, str]
Operator = Literal["=", "!=", ">", ">=", "<", "<=", "in", "not_in", "contains", "is_set", "is_not_set"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Comparison(_Strict):
    """`op` and `value` as trait and property conditions share them."""

    op: Operator = "="
    value: Scalar | list[Scalar] | None = None

    @model_validator(mode="after")
    def _value_fits_op(self):
        if self.op in ("is_set", "is_not_set"):
            if self.value is not None:
                raise ValueError(f"op {self.op} takes no value; remove value")
            return self
        if self.value is None:
            raise ValueError(f"op {self.op!r} needs a value")
        if self.op in ("in", "not_in") and not isinstance(self.value, list):
            raise ValueError(f"op {self.op} needs a list value, e.g. value: [a, b]")
        if self.op not in ("in", "not_in") and isinstance(self.value, list):
            raise ValueError(f"op {self.op!r} compares with one value; use op: in for a list")
        values = self.value if isinstance(self.value, list) else [self.value]
        if not values:
            raise ValueError(f"op {self.op} needs at least one value")
        if any(isinstance(v, float) and not math.isfinite(v) for v in values):
            raise ValueError("value must be a finite number")
        if self.op == "contains" and not isinstance(self.value, str):
            raise ValueError("op contains needs a text value")
        return self

    def holds(self, actual: Any) -> bool:
        """The comparison on one value as sent; the value is read as the type of `value`
        (the SQL side casts the column the same way), and one that cannot be is no match."""
        if self.op == "is_set":
            return actual is not None and actual != ""
        if self.op == "is_not_set":
            return actual is None or actual == ""
        if actual is None:
            return self.op in ("!=", "not_in")
        if self.op in ("in", "not_in"):
            found = any(_equal(actual, v) for v in self.value)
            return found if self.op == "in" else not found
        if self.op == "contains":
            return self.value in str(actual)
        if self.op == "=":
            return _equal(actual, self.value)
        if self.op == "!=":
            return not _equal(actual, self.value)
        left = _as(actual, self.value)
        if left is None or isinstance(left, bool):
            return False
        try:
            return {">": left > self.value, ">=": left >= self.value,
                    "<": left < self.value, "<=": left <= self.value}[self.op]
        except TypeError:
            return False


def _as(actual: Any, like: Scalar) -> Any:
    """`actual` as the type of `like`, or None when it is not one."""
    try:
        if isinstance(like, bool):
            if isinstance(actual, bool):
                return actual
            text = str(actual).strip().lower()
            return {"true": True, "false": False, "1": True, "0": False}.get(text)
        if isinstance(like, (int, float)):
            if isinstance(actual, bool):
                return None
            number = float(actual)
            return number if math.isfinite(number) else None
        return actual if isinstance(actual, str) else (str(actual).lower() if isinstance(actual, bool) else str(actual))
    except (TypeError, ValueError):
        return None


def _equal(actual: Any, expected: Scalar) -> bool:
    value = _as(actual, expected)
    return value is not None and value == expected


class PropertyFilter(Comparison):
    """A property of the event (as sent, e.g. `orderId` or `currency`) compared with a value."""

    property: str

    @field_validator("property")
    @classmethod
    def _not_empty(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("property names an event property and cannot be empty")
        return value
