"""A local Klaviyo API: profile bulk import jobs, profile lookup, list removal, events, lists, accounts.

Enforces what Klaviyo documents: `Authorization: Klaviyo-API-Key pk_...` (401 otherwise),
a `revision` header (400 naming the parameter otherwise), JSON:API bodies with the right
`type`s, at most 10,000 profiles a job (each with an email, E.164 phone_number or
external_id; any invalid profile refuses the job with one error per profile, pointer
`/data/attributes/profiles/data/<i>/attributes/<field>`), `page[size]` at most 100 on
`GET /api/profiles` with `any(...)`/`equals(...)` filters, at most 1,000 profiles per list
removal, events deduplicated on (metric, profile, `unique_id`), and data-privacy deletion
jobs naming exactly one of email, phone_number or a profile id (every matching profile is
erased, list memberships too; each job is recorded in `deletion_jobs`). Every error body is
`{"errors": [{"id", "status", "code", "title", "detail", "source"}]}`; 429 says when to retry.
Import jobs complete at once here (Klaviyo runs them asynchronously).
"""

from __future__ import annotations

import re
import secrets
import uuid
from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl, read_body_or_none

API_KEY = "pk_0123456789abcdef0123456789abcdef01"
LIST_ID = "Y6nRLr"
MAX_IMPORT, MAX_PAGE, MAX_REMOVE = 10_000, 100, 1_000
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_FILTER = re.compile(r'^(any|equals)\((email|external_id|phone_number|id),(.+)\)$')


def error(status: int, code: str, title: str, detail: str, source: dict | None = None) -> dict:
    return {"id": str(uuid.uuid4()), "status": status, "code": code, "title": title, "detail": detail,
            "source": source or {"pointer": "/data/"}}


def errors_response(status: int, errors: list[dict], headers: dict | None = None) -> Response:
    return JSONResponse({"errors": errors}, status_code=status, headers=headers,
                        media_type="application/vnd.api+json")


def invalid_input(detail: str, source: dict | None = None) -> Response:
    """Klaviyo's 400 for a request it cannot use: one `invalid` error saying what is wrong."""
    return errors_response(400, [error(400, "invalid", "Invalid input.", detail, source)])


def resource(body: object, kind: str) -> dict | None:
    """The JSON:API primary resource of type `kind` in a request body (`{"data": {"type": kind,
    ...}}`), or None when the body holds no such resource."""
    data = body.get("data") if isinstance(body, dict) else None
    return data if isinstance(data, dict) and data.get("type") == kind else None


@dataclass
class KlaviyoState:
    control: DestinationControl = field(default_factory=DestinationControl)
    lists: dict[str, str] = field(default_factory=lambda: {LIST_ID: "Headwater VIPs"})
    profiles: dict[str, dict] = field(default_factory=dict)          # Klaviyo profile id -> attributes
    list_members: dict[str, set[str]] = field(default_factory=dict)  # list id -> profile ids
    jobs: int = 0
    deletion_jobs: list[tuple[str, str]] = field(default_factory=list)  # (identifier, value) per accepted job
    _index: dict[tuple[str, str], str] = field(default_factory=dict)   # (identifier, value) -> profile id

    def find(self, attributes: dict) -> str | None:
        """Klaviyo matches a profile on external_id, then email, then phone number."""
        for key in ("external_id", "email", "phone_number"):
            pid = self._index.get((key, attributes.get(key)))
            if attributes.get(key) and pid in self.profiles:
                return pid
        return None

    def upsert(self, attributes: dict) -> str:
        pid = self.find(attributes) or "01" + uuid.uuid4().hex[:24].upper()
        self.profiles[pid] = {**self.profiles.get(pid, {}), **attributes}
        for key in ("external_id", "email", "phone_number"):
            if self.profiles[pid].get(key):
                self._index[(key, self.profiles[pid][key])] = pid
        return pid

    def erase(self, identifier: str, value: str) -> int:
        """A GDPR deletion: every profile matching the identifier, with its list memberships."""
        doomed = {pid for pid, attributes in self.profiles.items()
                  if (pid == value if identifier == "id" else attributes.get(identifier) == value)}
        for pid in doomed:
            attributes = self.profiles.pop(pid)
            for key in ("external_id", "email", "phone_number"):
                self._index.pop((key, attributes.get(key)), None)
            for members in self.list_members.values():
                members.discard(pid)
        return len(doomed)

    def member_external_ids(self, list_id: str = LIST_ID) -> list[str]:
        return sorted(self.profiles[p].get("external_id") for p in self.list_members.get(list_id, set()))


def _profile_problems(index: int, profile: object, rejected: set[str]) -> list[dict]:
    def bad(field_name: str, detail: str) -> dict:
        return error(400, "invalid", "Invalid input.", detail,
                     {"pointer": f"/data/attributes/profiles/data/{index}/attributes/{field_name}"})

    if not isinstance(profile, dict) or profile.get("type") != "profile" or not isinstance(profile.get("attributes"), dict):
        return [bad("", "each profile must be {type: profile, attributes: {...}}")]
    attributes = profile["attributes"]
    found = []
    if not any(attributes.get(k) for k in ("email", "phone_number", "external_id")):
        found.append(bad("email", "One of email, phone_number or external_id is required"))
    if attributes.get("email") and (not _EMAIL.match(attributes["email"]) or attributes["email"] in rejected):
        found.append(bad("email", f"Invalid email address: {attributes['email']}"))
    if attributes.get("phone_number") and not _E164.match(attributes["phone_number"]):
        found.append(bad("phone_number", "Invalid phone number format (Example of a valid format: +13239169023)"))
    return found


def create_app(state: KlaviyoState | None = None) -> Starlette:
    """`app.state.klaviyo` holds the control (log, faults, events by unique_id), profiles and lists."""
    state = state or KlaviyoState()
    control = state.control

    def fault(status: int, message: str) -> Response:
        if status == 429:
            return errors_response(429, [error(429, "throttled", "Request was throttled.",
                                               "Request was throttled. Expected available in 1 second.")])
        return errors_response(status, [error(status, "error", "A server error occurred.", message)])

    def admitted(request: Request) -> Response | None:
        injected = control.admit(request, fault)
        if injected is not None:
            return injected
        header = request.headers.get("authorization", "")
        supplied = header[len("Klaviyo-API-Key "):] if header.startswith("Klaviyo-API-Key ") else ""
        if not supplied or not secrets.compare_digest(supplied.encode(), API_KEY.encode()):
            return errors_response(401, [error(401, "not_authenticated",
                                               "Authentication credentials were not provided.",
                                               "Missing or invalid private key.")])
        if not re.match(r"^\d{4}-\d{2}-\d{2}(\.\w+)?$", request.headers.get("revision", "")):
            return invalid_input("Missing or invalid `revision` header (YYYY-MM-DD)", {"parameter": "revision"})
        return None

    async def import_jobs(request: Request) -> Response:
        if (denied := admitted(request)) is not None:
            return denied
        body = await read_body_or_none(request)
        data = resource(body, "profile-bulk-import-job")
        if data is None:
            return invalid_input("data.type must be 'profile-bulk-import-job'")
        profiles = ((data.get("attributes") or {}).get("profiles") or {}).get("data")
        if not isinstance(profiles, list) or not profiles:
            return invalid_input("profiles.data must be a non-empty array")
        if len(profiles) > MAX_IMPORT:
            return invalid_input(f"A job may have at most {MAX_IMPORT} profiles, got {len(profiles)}")
        lists = [item.get("id") for item in (((data.get("relationships") or {}).get("lists") or {}).get("data") or [])]
        if any(list_id not in state.lists for list_id in lists):
            return errors_response(404, [error(404, "not_found", "Not found.", "A related list does not exist.")])
        problems = [p for i, profile in enumerate(profiles) for p in _profile_problems(i, profile, control.rejected_values)]
        if problems:
            return errors_response(400, problems)
        control.record_body(body)
        with control.store_lock:
            state.jobs += 1
            for profile in profiles:
                pid = state.upsert(profile["attributes"])
                for list_id in lists:
                    state.list_members.setdefault(list_id, set()).add(pid)
        job_id = uuid.uuid4().hex
        return JSONResponse({"data": {"type": "profile-bulk-import-job", "id": job_id,
                                      "attributes": {"status": "queued", "total_count": len(profiles),
                                                     "completed_count": 0, "failed_count": 0},
                                      "links": {"self": f"/api/profile-bulk-import-jobs/{job_id}"}}},
                            status_code=202, media_type="application/vnd.api+json")

    async def get_profiles(request: Request) -> Response:
        if (denied := admitted(request)) is not None:
            return denied
        size = request.query_params.get("page[size]", "20")
        if not size.isdigit() or not 1 <= int(size) <= MAX_PAGE:
            return invalid_input(f"page[size] must be 1..{MAX_PAGE}", {"parameter": "page[size]"})
        match = _FILTER.match(request.query_params.get("filter", ""))
        if match is None:
            return invalid_input("unsupported filter", {"parameter": "filter"})
        operator, field_name, raw = match.groups()
        try:
            values = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return invalid_input("filter values must be JSON strings", {"parameter": "filter"})
        wanted = set(values if operator == "any" else [values])
        ids = [v for v in wanted if v in state.profiles] if field_name == "id" else [
            state._index.get((field_name, v)) for v in wanted]
        hits = [{"type": "profile", "id": pid, "attributes": {field_name: state.profiles[pid].get(field_name)}}
                for pid in sorted(p for p in ids if p in state.profiles)]
        return JSONResponse({"data": hits[:int(size)], "links": {"self": str(request.url), "next": None}},
                            media_type="application/vnd.api+json")

    async def list_relationship(request: Request) -> Response:
        if (denied := admitted(request)) is not None:
            return denied
        list_id = request.path_params["list_id"]
        if list_id not in state.lists:
            return errors_response(404, [error(404, "not_found", "Not found.", f"List {list_id} does not exist.")])
        body = await read_body_or_none(request)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or not data or any(not isinstance(d, dict) or d.get("type") != "profile"
                                                         for d in data):
            return invalid_input("data must be profile identifiers")
        if len(data) > MAX_REMOVE:
            return invalid_input(f"at most {MAX_REMOVE} profiles per call, got {len(data)}")
        control.record_body(body)
        with control.store_lock:
            state.list_members.setdefault(list_id, set()).difference_update(d.get("id") for d in data)
        return Response(status_code=204)

    async def events(request: Request) -> Response:
        if (denied := admitted(request)) is not None:
            return denied
        body = await read_body_or_none(request)
        attributes = (resource(body, "event") or {}).get("attributes")
        if not isinstance(attributes, dict):
            return invalid_input("data.type must be 'event'")
        metric = ((attributes.get("metric") or {}).get("data") or {}).get("attributes") or {}
        profile = ((attributes.get("profile") or {}).get("data") or {}).get("attributes") or {}
        if not metric.get("name"):
            return invalid_input("metric name is required", {"pointer": "/data/attributes/metric/data/attributes/name"})
        if not any(profile.get(k) for k in ("email", "phone_number", "external_id")):
            return invalid_input("the profile needs an identifier",
                                 {"pointer": "/data/attributes/profile/data/attributes"})
        values = [v for v in (attributes.get("properties") or {}).values()] + list(profile.values())
        if any(isinstance(v, str) and v in control.rejected_values for v in values):
            return invalid_input("an event property is invalid", {"pointer": "/data/attributes/properties"})
        control.record_body(body)
        identity = profile.get("external_id") or profile.get("email") or profile.get("phone_number")
        key = f"{metric['name']}|{identity}|{attributes.get('unique_id') or attributes.get('time')}"
        control.add_event(key, attributes)
        return Response(status_code=202)

    async def deletion_jobs(request: Request) -> Response:
        if (denied := admitted(request)) is not None:
            return denied
        body = await read_body_or_none(request)
        data = resource(body, "data-privacy-deletion-job")
        if data is None:
            return invalid_input("data.type must be 'data-privacy-deletion-job'")
        profile = (((data.get("attributes") or {}).get("profile") or {}).get("data")) or {}
        if profile.get("type") != "profile":
            return invalid_input("profile.data.type must be 'profile'",
                                 {"pointer": "/data/attributes/profile/data/type"})
        named = {k: v for k, v in (profile.get("attributes") or {}).items() if k in ("email", "phone_number") and v}
        if profile.get("id"):
            named["id"] = profile["id"]
        if len(named) != 1:
            return invalid_input("Exactly one of email, phone_number or id must be provided",
                                 {"pointer": "/data/attributes/profile/data"})
        [(identifier, value)] = named.items()
        if (identifier == "email" and not _EMAIL.match(str(value))) or (
                identifier == "phone_number" and not _E164.match(str(value))):
            return invalid_input(f"Invalid {identifier}",
                                 {"pointer": f"/data/attributes/profile/data/attributes/{identifier}"})
        control.record_body(body)
        with control.store_lock:
            state.erase(identifier, str(value))
            state.deletion_jobs.append((identifier, str(value)))
        return Response(status_code=202)

    async def get_list(request: Request) -> Response:
        if (denied := admitted(request)) is not None:
            return denied
        list_id = request.path_params["list_id"]
        if list_id not in state.lists:
            return errors_response(404, [error(404, "not_found", "Not found.", f"List {list_id} does not exist.")])
        return JSONResponse({"data": {"type": "list", "id": list_id, "attributes": {"name": state.lists[list_id]}}},
                            media_type="application/vnd.api+json")

    async def accounts(request: Request) -> Response:
        if (denied := admitted(request)) is not None:
            return denied
        return JSONResponse({"data": [{"type": "account", "id": "HWDEMO",
                                       "attributes": {"contact_information": {"organization_name": "Headwater"}}}]},
                            media_type="application/vnd.api+json")

    app = Starlette(routes=[Route("/api/profile-bulk-import-jobs", import_jobs, methods=["POST"]),
                            Route("/api/profiles", get_profiles, methods=["GET"]),
                            Route("/api/lists/{list_id}/relationships/profiles", list_relationship, methods=["DELETE"]),
                            Route("/api/lists/{list_id}", get_list, methods=["GET"]),
                            Route("/api/events", events, methods=["POST"]),
                            Route("/api/data-privacy-deletion-jobs", deletion_jobs, methods=["POST"]),
                            Route("/api/accounts", accounts, methods=["GET"])])
    app.state.klaviyo = state
    return app
