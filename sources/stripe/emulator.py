"""A local Stripe API for tests and the demo: the objects of a synthetic world, Stripe's rules.

It enforces what the real API documents and a client can trip over: Bearer (or Basic) auth
with one key (401 otherwise), `limit` 1..100, `starting_after`/`ending_before` on object ids
(never both), `created[gt|gte|lt|lte]`, newest-first order, unknown parameters rejected,
`/v1/events` with `type`/`types[]` and 30-day retention, subscriptions hiding `canceled`
unless `status=all`, and Stripe's `{"error": {"type", "message", "param"}}` bodies.
Tests mutate the data through `StripeEmulator` (each change emits its event, at the
emulator's clock, which tests may move forward) and inject faults through `control`.
"""

from __future__ import annotations

import copy
import itertools
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from sources.emulator_kit import EmulatorControl, vendor_records
from sources.stripe.settings import EVENT_RETENTION_SECONDS, OBJECTS, OBJECTS_BY_PATH, StripeObject

DEFAULT_API_KEY = "rk_test_headwater_emulator"
ID_PREFIX = {"customer": "cus", "charge": "ch", "payment_intent": "pi", "invoice": "in",
             "subscription": "sub", "refund": "re", "checkout.session": "cs_test"}
EVENT_PREFIX = {"subscription": "customer.subscription"}
CREATED_EVENT = {"charge": "charge.succeeded", "checkout.session": "checkout.session.completed"}
UPDATED_EVENT = {"checkout.session": "checkout.session.completed"}
COMMON_PARAMS = {"limit", "starting_after", "ending_before", "expand[]"}
EXTRA_PARAMS = {
    "/v1/customers": {"email"},
    "/v1/charges": {"customer", "payment_intent"},
    "/v1/payment_intents": {"customer"},
    "/v1/invoices": {"customer", "status", "subscription"},
    "/v1/subscriptions": {"customer", "status", "price"},
    "/v1/refunds": {"charge", "payment_intent"},
    "/v1/checkout/sessions": {"customer", "payment_intent", "status"},
    "/v1/events": {"type", "types", "delivery_success"},
}
CREATED_OPERATORS = {"gt": int.__gt__, "gte": int.__ge__, "lt": int.__lt__, "lte": int.__le__}


class StripeRequestError(Exception):
    def __init__(self, status: int, message: str, param: str | None = None,
                 type_: str = "invalid_request_error", code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.param, self.type, self.code = status, message, param, type_, code

    def response(self) -> JSONResponse:
        return stripe_error(self.status, self.message, self.param, self.type, self.code)


def stripe_error(status: int, message: str, param: str | None = None,
                 type_: str | None = None, code: str | None = None) -> JSONResponse:
    error: dict[str, Any] = {"type": type_ or ("api_error" if status >= 500 else "invalid_request_error"),
                             "message": message}
    if param:
        error["param"] = param
    if code or status == 429:
        error["code"] = code or "rate_limit"
    return JSONResponse({"error": error}, status_code=status,
                        headers={"Request-Id": f"req_{secrets.token_hex(7)}"})


class StripeEmulator:
    """The emulator's data: objects per table in creation order, and the event log."""

    def __init__(self, records: Iterable[dict] = (), api_key: str = DEFAULT_API_KEY,
                 clock: Callable[[], float] = time.time):
        self.api_key = api_key
        self._clock = clock
        self._offset = 0.0
        self._lock = threading.RLock()
        self._sequence = itertools.count(1)
        self.objects: dict[str, dict[str, dict]] = {o.table: {} for o in OBJECTS}
        self._order: dict[str, int] = {}
        self.events: list[dict] = []
        self.control = EmulatorControl()
        for record in records:
            self.create(_table_of(record), record, emit=True)

    # -- clock -------------------------------------------------------------------------
    def now(self) -> int:
        return int(self._clock() + self._offset)

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock forward (e.g. past the 30-day event retention)."""
        self._offset += seconds

    # -- mutations (each emits the event Stripe would) ---------------------------------
    def create(self, table: str, obj: dict, event_type: str | None = None, emit: bool = True) -> dict:
        spec = _spec(table)
        with self._lock:
            obj = copy.deepcopy(obj)
            obj.setdefault("object", spec.object_type)
            obj.setdefault("id", f"{ID_PREFIX[spec.object_type]}_{secrets.token_hex(8)}")
            obj.setdefault("created", self.now())
            obj.setdefault("livemode", False)
            obj.setdefault("metadata", {})
            self.objects[table][obj["id"]] = obj
            self._order[obj["id"]] = next(self._sequence)
            if emit:
                default = CREATED_EVENT.get(spec.object_type, f"{_event_prefix(spec)}.created")
                self._emit(event_type or default, obj, created=min(obj["created"], self.now()))
            return copy.deepcopy(obj)

    def update(self, table: str, object_id: str, changes: dict, event_type: str | None = None) -> dict:
        spec = _spec(table)
        with self._lock:
            obj = self._get(table, object_id)
            previous = {key: copy.deepcopy(obj.get(key)) for key in changes}
            obj.update(copy.deepcopy(changes))
            default = UPDATED_EVENT.get(spec.object_type, f"{_event_prefix(spec)}.updated")
            self._emit(event_type or default, obj, previous=previous)
            return copy.deepcopy(obj)

    def delete(self, table: str, object_id: str) -> None:
        """Delete a customer or draft invoice: it leaves the lists, `*.deleted` is emitted."""
        spec = _spec(table)
        with self._lock:
            obj = self._get(table, object_id)
            del self.objects[table][object_id]
            self._emit(f"{_event_prefix(spec)}.deleted", obj)

    def cancel_subscription(self, subscription_id: str) -> dict:
        with self._lock:
            now = self.now()
            obj = self._get("subscriptions", subscription_id)
            obj.update({"status": "canceled", "canceled_at": now, "ended_at": now})
            self._emit("customer.subscription.deleted", obj)
            return copy.deepcopy(obj)

    def current(self, table: str) -> list[dict]:
        """Every live object of a table (including canceled subscriptions), a deep copy."""
        with self._lock:
            return copy.deepcopy(list(self.objects[table].values()))

    def _get(self, table: str, object_id: str) -> dict:
        try:
            return self.objects[table][object_id]
        except KeyError:
            raise KeyError(f"no {table} object {object_id!r} in the emulator") from None

    def _emit(self, event_type: str, obj: dict, previous: dict | None = None, created: int | None = None) -> None:
        data: dict[str, Any] = {"object": copy.deepcopy(obj)}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {"id": f"evt_{secrets.token_hex(12)}", "object": "event", "api_version": "2025-09-30.clover",
                 "created": self.now() if created is None else created, "data": data, "livemode": False,
                 "pending_webhooks": 0, "request": {"id": None, "idempotency_key": None}, "type": event_type}
        self._order[event["id"]] = next(self._sequence)
        self.events.append(event)

    # -- reads -------------------------------------------------------------------------
    def list_page(self, path: str, query: dict[str, list[str]]) -> dict:
        allowed = COMMON_PARAMS | EXTRA_PARAMS.get(path, set())
        filters: dict[str, str] = {}
        types: list[str] = []
        created: list[tuple[str, int]] = []
        for key, values in query.items():
            base = key.split("[", 1)[0]
            if base == "created":
                operator = key[len("created["):-1] if key.startswith("created[") else None
                if operator not in CREATED_OPERATORS:
                    raise StripeRequestError(400, f"Invalid created parameter: {key}; use created[gt|gte|lt|lte]", key)
                created.append((operator, _integer(values[0], key)))
            elif base == "types" and "types" in allowed:
                types.extend(values)
            elif base == "expand":
                continue
            elif key in allowed:
                filters[key] = values[0]
            else:
                raise StripeRequestError(400, f"Received unknown parameter: {key}", key)
        limit = _integer(filters.pop("limit", "10"), "limit")
        if limit < 1:
            raise StripeRequestError(400, "This value must be greater than or equal to 1.", "limit")
        if limit > 100:
            raise StripeRequestError(400, "This value must be less than or equal to 100.", "limit")
        if "starting_after" in filters and "ending_before" in filters:
            raise StripeRequestError(400, "Received both starting_after and ending_before parameters. "
                                          "Please pass in only one.")
        if len(types) > 20:
            raise StripeRequestError(400, "types may contain at most 20 event types.", "types")
        if types and "type" in filters:
            raise StripeRequestError(400, "You may only specify one of these parameters: type, types.", "types")
        with self._lock:
            items = self._candidates(path, filters, types)
            for operator, value in created:
                items = [o for o in items if CREATED_OPERATORS[operator](int(o["created"]), value)]
            items.sort(key=lambda o: (o["created"], self._order[o["id"]]), reverse=True)
            items = self._window(path, items, filters)
            page = copy.deepcopy(items[:limit])
        return {"object": "list", "url": path, "has_more": len(items) > limit, "data": page}

    def retrieve(self, path: str, object_id: str) -> dict:
        with self._lock:
            if path == "/v1/events":
                for event in self._live_events():
                    if event["id"] == object_id:
                        return copy.deepcopy(event)
            else:
                found = self.objects[OBJECTS_BY_PATH[path].table].get(object_id)
                if found:
                    return copy.deepcopy(found)
        noun = "event" if path == "/v1/events" else OBJECTS_BY_PATH[path].object_type.replace(".", " ")
        raise StripeRequestError(404, f"No such {noun}: '{object_id}'", "id", code="resource_missing")

    def _live_events(self) -> list[dict]:
        oldest = self.now() - EVENT_RETENTION_SECONDS
        return [event for event in self.events if event["created"] >= oldest]

    def _candidates(self, path: str, filters: dict[str, str], types: list[str]) -> list[dict]:
        if path == "/v1/events":
            events = self._live_events()
            if types:
                events = [e for e in events if e["type"] in types]
            if "type" in filters:
                wanted = filters.pop("type")
                prefix = wanted[:-1] if wanted.endswith("*") else None
                events = [e for e in events if (e["type"].startswith(prefix) if prefix else e["type"] == wanted)]
            return events
        items = list(self.objects[OBJECTS_BY_PATH[path].table].values())
        if path == "/v1/subscriptions":
            status = filters.pop("status", None)
            if status is None:
                items = [o for o in items if o.get("status") != "canceled"]
            elif status != "all":
                items = [o for o in items if o.get("status") == status]
        for key in ("customer", "email", "charge", "payment_intent", "status", "subscription"):
            if key in filters:
                items = [o for o in items if o.get(key) == filters[key]]
        return items

    def _window(self, path: str, items: list[dict], filters: dict[str, str]) -> list[dict]:
        for param in ("starting_after", "ending_before"):
            anchor = filters.get(param)
            if anchor is None:
                continue
            positions = [i for i, o in enumerate(items) if o["id"] == anchor]
            if not positions:
                noun = "event" if path == "/v1/events" else OBJECTS_BY_PATH[path].object_type.replace(".", " ")
                raise StripeRequestError(400, f"No such {noun}: '{anchor}'", param, code="resource_missing")
            index = positions[0]
            return items[index + 1:] if param == "starting_after" else items[:index]
        return items


def _integer(text: str, param: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise StripeRequestError(400, f"Invalid integer: {text}", param) from None


def _spec(table: str) -> StripeObject:
    for spec in OBJECTS:
        if spec.table == table:
            return spec
    raise KeyError(f"unknown Stripe table {table!r}; one of {[o.table for o in OBJECTS]}")


def _event_prefix(spec: StripeObject) -> str:
    return EVENT_PREFIX.get(spec.object_type, spec.object_type)


def _table_of(record: dict) -> str:
    for spec in OBJECTS:
        if spec.object_type == record.get("object"):
            return spec.table
    raise ValueError(f"record {record.get('id')!r} has object {record.get('object')!r}, not a loaded Stripe type")


def world_records(world: Path) -> list[dict]:
    """Stripe objects from a synthetic world's `vendors/stripe/<table>.jsonl[.gz]`, oldest first."""
    if not (Path(world) / "vendors" / "stripe").is_dir():
        raise FileNotFoundError(f"no Stripe records under {world} (expected {Path(world) / 'vendors' / 'stripe'})")
    records = [record for spec in OBJECTS for record in vendor_records(world, "stripe", spec.table)]
    records.sort(key=lambda r: r.get("created", 0))
    return records


def _authorized(request: Request, api_key: str) -> JSONResponse | None:
    header = request.headers.get("authorization", "")
    supplied = None
    if header.lower().startswith("bearer "):
        supplied = header[7:].strip()
    elif header.lower().startswith("basic "):
        import base64

        try:
            supplied = base64.b64decode(header[6:]).decode().split(":", 1)[0]
        except (ValueError, UnicodeDecodeError):
            supplied = ""
    if not supplied:
        return stripe_error(401, "You did not provide an API key. You need to provide your API key in the "
                                 "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').")
    if not secrets.compare_digest(supplied.encode(), api_key.encode()):
        return stripe_error(401, f"Invalid API Key provided: {supplied[:8]}****")
    return None


def create_app(world: Path | str | Iterable[dict] | StripeEmulator | None = None, api_key: str = DEFAULT_API_KEY,
               clock: Callable[[], float] = time.time) -> Starlette:
    """The emulator as an ASGI app; `app.state.emulator` is the `StripeEmulator` behind it."""
    if isinstance(world, StripeEmulator):
        emulator = world
    elif isinstance(world, (str, Path)):
        emulator = StripeEmulator(world_records(Path(world)), api_key=api_key, clock=clock)
    else:
        emulator = StripeEmulator(world or (), api_key=api_key, clock=clock)

    def guarded(handler):
        async def endpoint(request: Request) -> Response:
            fault = emulator.control.admit(request, lambda status, message: stripe_error(status, message))
            if fault is not None:
                return fault
            denied = _authorized(request, emulator.api_key)
            if denied is not None:
                return denied
            try:
                body = handler(request)
            except StripeRequestError as error:
                return error.response()
            version = request.headers.get("stripe-version", "2025-09-30.clover")
            return Response(orjson.dumps(body), media_type="application/json",
                            headers={"Stripe-Version": version, "Request-Id": f"req_{secrets.token_hex(7)}"})
        return endpoint

    routes = []
    for path in [o.path for o in OBJECTS] + ["/v1/events"]:
        routes.append(Route(path, guarded(lambda r, p=path: emulator.list_page(p, _query(r))), methods=["GET"]))
        routes.append(Route(path + "/{object_id}",
                            guarded(lambda r, p=path: emulator.retrieve(p, r.path_params["object_id"])),
                            methods=["GET"]))

    async def not_found(request: Request, exc) -> Response:
        return stripe_error(404, f"Unrecognized request URL (GET: {request.url.path}).")

    app = Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
    app.state.emulator = emulator
    return app


def _query(request: Request) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        if key.startswith("types["):  # types[0]=a (stripe-python) or types[]=a
            key = "types"
        query.setdefault(key, []).append(value)
    return query
