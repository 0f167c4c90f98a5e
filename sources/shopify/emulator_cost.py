"""Shopify's calculated query cost and the leaky bucket that rate-limits it.

Shopify prices a query before running it (scalars and enums 0, objects 1, a connection
2 plus `first` times the cost of one node, a mutation 10), refuses it with THROTTLED when
the bucket holds fewer points, and afterwards refunds the difference between the
requested and the actual cost (connections that returned fewer nodes). The bucket's clock
is injectable so tests can advance time instead of sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_leaf_type,
    is_list_type,
    get_nullable_type,
    value_from_ast_untyped,
)

MUTATION_COST = 10
MAX_QUERY_COST = 1000


class PaginationArgumentError(ValueError):
    """A connection was asked for without `first`/`last`, or for more than the page limit."""


def is_connection(type_) -> bool:
    return get_named_type(type_).name.endswith("Connection")


def page_size(arguments: dict, limit: int | None, field_name: str) -> int:
    """The number of nodes a connection may return, per Shopify's argument rules."""
    first, last = arguments.get("first"), arguments.get("last")
    if first is None and last is None:
        if limit is None:
            return 0
        raise PaginationArgumentError(f"you must provide one of first or last (field '{field_name}')")
    size = first if first is not None else last
    if size < 0:
        raise PaginationArgumentError(f"'{'first' if first is not None else 'last'}' on '{field_name}' must not be negative")
    if limit is not None and size > limit:
        raise PaginationArgumentError(
            f"'{'first' if first is not None else 'last'}' on '{field_name}' is {size}; the maximum page size is {limit}"
        )
    return size


@dataclass
class CostContext:
    schema: GraphQLSchema
    fragments: dict
    variables: dict
    page_limit: int | None = 250


def _arguments(node: FieldNode, variables: dict) -> dict:
    return {argument.name.value: value_from_ast_untyped(argument.value, variables) for argument in node.arguments}


def selection_cost(selection_set: SelectionSetNode | None, parent_type, context: CostContext) -> int:
    """Cost of a selection on an object: its own fields plus the dearest type-conditioned fragment."""
    if selection_set is None:
        return 0
    direct, branches = 0, [0]
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            direct += field_cost(selection, parent_type, context)
        else:
            if isinstance(selection, FragmentSpreadNode):
                fragment = context.fragments[selection.name.value]
                condition, inner = fragment.type_condition, fragment.selection_set
            else:
                assert isinstance(selection, InlineFragmentNode)
                condition, inner = selection.type_condition, selection.selection_set
            target = context.schema.get_type(condition.name.value) if condition else parent_type
            branches.append(selection_cost(inner, target, context))
    return direct + max(branches)


def field_cost(node: FieldNode, parent_type, context: CostContext) -> int:
    name = node.name.value
    if name.startswith("__"):
        return 0
    definition = get_named_type(parent_type).fields[name] if hasattr(get_named_type(parent_type), "fields") else None
    if definition is None:
        return 0
    named = get_named_type(definition.type)
    if is_leaf_type(named):
        return 0
    arguments = _arguments(node, context.variables)
    if is_connection(definition.type):
        size = page_size(arguments, context.page_limit, name)
        return 2 + size * per_node_cost(node, named, context)
    inner = selection_cost(node.selection_set, named, context)
    if is_list_type(get_nullable_type(definition.type)) and "first" in arguments:
        return (arguments["first"] or 0) * (1 + inner)
    return 1 + inner


def per_node_cost(connection_node: FieldNode, connection_type, context: CostContext) -> int:
    """What one node of a connection costs: 1 for the object plus its own selection."""
    node_type = get_named_type(connection_type.fields["nodes"].type)
    costs = [0]
    for selection in connection_node.selection_set.selections if connection_node.selection_set else []:
        if not isinstance(selection, FieldNode):
            continue
        if selection.name.value == "nodes":
            costs.append(1 + selection_cost(selection.selection_set, node_type, context))
        elif selection.name.value == "edges" and selection.selection_set:
            for edge_field in selection.selection_set.selections:
                if isinstance(edge_field, FieldNode) and edge_field.name.value == "node":
                    costs.append(1 + selection_cost(edge_field.selection_set, node_type, context))
    return max(costs) if costs != [0] else 1


def requested_cost(operation: OperationDefinitionNode, context: CostContext) -> int:
    if operation.operation.value == "mutation":
        return MUTATION_COST
    root = context.schema.query_type
    return selection_cost(operation.selection_set, root, context)


@dataclass
class ThrottleStatus:
    maximumAvailable: float
    currentlyAvailable: float
    restoreRate: float

    def as_dict(self) -> dict:
        return {"maximumAvailable": self.maximumAvailable, "currentlyAvailable": self.currentlyAvailable,
                "restoreRate": self.restoreRate}


class LeakyBucket:
    """1000 points, refilled continuously at `restore_rate` points per second."""

    def __init__(self, capacity: float = 1000.0, restore_rate: float = 50.0,
                 clock: Callable[[], float] = time.monotonic):
        self.capacity, self.restore_rate, self.clock = capacity, restore_rate, clock
        self._available = capacity
        self._at = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self.clock()
        self._available = min(self.capacity, self._available + (now - self._at) * self.restore_rate)
        self._at = now

    def take(self, cost: float) -> bool:
        with self._lock:
            self._refill()
            if cost > self._available:
                return False
            self._available -= cost
            return True

    def refund(self, points: float) -> None:
        with self._lock:
            self._refill()
            self._available = min(self.capacity, self._available + max(points, 0))

    def drain(self) -> None:
        with self._lock:
            self._refill()
            self._available = 0.0

    def status(self) -> ThrottleStatus:
        with self._lock:
            self._refill()
            return ThrottleStatus(int(self.capacity), int(self._available), int(self.restore_rate))
