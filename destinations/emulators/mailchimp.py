"""A local Mailchimp Marketing API (write side): batch subscribe, batch operations, ping, lists.

Enforces what Mailchimp documents: Basic auth with the API key as password (401
problem+json otherwise, as sources.mailchimp's read emulator does); 404 for an unknown
list; `POST /lists/{id}` with at most 500 `members` (400 above), each needing a valid
`email_address` and a `status` of subscribed/unsubscribed/cleaned/pending/transactional;
refused members come back in the 200 answer's `errors` (email_address, error,
error_code, field, field_message) while the others are created or updated; an existing
member without `update_existing` is ERROR_CONTACT_EXISTS. `POST /batches` runs
`DELETE /lists/{id}/members/{hash}` operations (archive) and answers the batch status.
`POST /lists/{id}/members/{hash}/actions/delete-permanent` erases a member (204; 404 when
there is none) and, as Mailchimp does, refuses to import that address again.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

import orjson
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from destinations.emulators.kit import DestinationControl, read_body
from sources.mailchimp.emulator import _authorized, member_id, problem

API_KEY = "fedcba9876543210fedcba9876543210-us21"
LIST_ID = "a1b2c3d4e5"
MAX_MEMBERS = 500
STATUSES = {"subscribed", "unsubscribed", "cleaned", "pending", "transactional"}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ARCHIVE = re.compile(r"^/lists/(?P<list>[^/]+)/members/(?P<hash>[0-9a-f]{32})$")


@dataclass
class MailchimpState:
    control: DestinationControl = field(default_factory=DestinationControl)
    lists: dict[str, str] = field(default_factory=lambda: {LIST_ID: "Headwater demo"})
    members: dict[str, dict[str, dict]] = field(default_factory=dict)   # list id -> hash -> member
    permanently_deleted: set[tuple[str, str]] = field(default_factory=set)  # (list id, subscriber hash)

    def active(self, list_id: str = LIST_ID) -> dict[str, dict]:
        """Members that are not archived, by subscriber hash."""
        return {h: m for h, m in self.members.get(list_id, {}).items() if m["status"] != "archived"}


def create_app(state: MailchimpState | None = None, api_key: str = API_KEY) -> Starlette:
    """Mounted at /3.0; `app.state.mailchimp` holds the control and the members."""
    state = state or MailchimpState()
    control = state.control

    def fault_response(status: int, message: str) -> Response:
        return problem(status, "Too Many Requests" if status == 429 else "Internal Server Error", message)

    def admitted(request: Request) -> Response | None:
        return control.admit(request, fault_response) or _authorized(request, api_key)

    async def ping(request: Request) -> Response:
        return admitted(request) or JSONResponse({"health_status": "Everything's Chimpy!"})

    async def list_endpoint(request: Request) -> Response:
        denied = admitted(request)
        if denied is not None:
            return denied
        list_id = request.path_params["list_id"]
        if list_id not in state.lists:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        if request.method == "GET":
            return JSONResponse({"id": list_id, "name": state.lists[list_id]})
        try:
            body = await read_body(request)
        except orjson.JSONDecodeError:
            return problem(400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.")
        if not isinstance(body, dict) or not isinstance(body.get("members"), list):
            return problem(400, "Invalid Resource", "Schema describes array, but no array was provided for members.")
        if len(body["members"]) > MAX_MEMBERS:
            return problem(400, "Invalid Resource", f"members: at most {MAX_MEMBERS} members per request.")
        control.record_body(body)
        return JSONResponse(_batch_subscribe(state, list_id, body["members"], bool(body.get("update_existing"))))

    async def batches(request: Request) -> Response:
        denied = admitted(request)
        if denied is not None:
            return denied
        try:
            body = await read_body(request)
        except orjson.JSONDecodeError:
            return problem(400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.")
        operations = body.get("operations") if isinstance(body, dict) else None
        if not isinstance(operations, list) or not operations:
            return problem(400, "Invalid Resource", "operations: Schema describes array, but none was provided.")
        control.record_body(body)
        errored = 0
        with control.store_lock:
            for operation in operations:
                match = _ARCHIVE.match(str(operation.get("path", "")))
                if operation.get("method") != "DELETE" or match is None:
                    errored += 1
                    continue
                member = state.members.get(match["list"], {}).get(match["hash"])
                if member is None or member["status"] == "archived":
                    errored += 1          # 404 inside the batch: already gone
                    continue
                member["status"] = "archived"
        return JSONResponse({"id": uuid.uuid4().hex[:10], "status": "finished", "total_operations": len(operations),
                             "finished_operations": len(operations), "errored_operations": errored,
                             "response_body_url": ""})

    async def delete_permanent(request: Request) -> Response:
        denied = admitted(request)
        if denied is not None:
            return denied
        list_id, member = request.path_params["list_id"], request.path_params["subscriber_hash"]
        if list_id not in state.lists:
            return problem(404, "Resource Not Found", "The requested resource could not be found.")
        with control.store_lock:
            if state.members.get(list_id, {}).pop(member, None) is None:
                return problem(404, "Resource Not Found", "The requested resource could not be found.")
            state.permanently_deleted.add((list_id, member))
        control.record_body({"delete_permanent": [list_id, member]})
        return Response(status_code=204)

    app = Starlette(routes=[Route("/3.0/ping", ping, methods=["GET"]),
                            Route("/3.0/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent",
                                  delete_permanent, methods=["POST"]),
                            Route("/3.0/lists/{list_id}", list_endpoint, methods=["GET", "POST"]),
                            Route("/3.0/batches", batches, methods=["POST"])])
    app.state.mailchimp = state
    return app


def _batch_subscribe(state: MailchimpState, list_id: str, members: list, update_existing: bool) -> dict:
    created, updated, errors = [], [], []
    rejected = state.control.rejected_values
    with state.control.store_lock:
        stored = state.members.setdefault(list_id, {})
        for member in members:
            email = str(member.get("email_address", "")) if isinstance(member, dict) else ""

            def refuse(code: str, message: str, field_name: str = "email_address") -> None:
                errors.append({"email_address": email, "error": message, "error_code": code, "field": field_name,
                               "field_message": message})

            if not _EMAIL.match(email) or email in rejected:
                refuse("ERROR_GENERIC", f"{email} looks fake or invalid, please enter a real email address.")
                continue
            if member.get("status") not in STATUSES:
                refuse("ERROR_GENERIC", "status: must be one of " + ", ".join(sorted(STATUSES)), "status")
                continue
            key = member_id(email)
            if (list_id, key) in state.permanently_deleted:
                refuse("ERROR_GENERIC", f"{email} was permanently deleted and cannot be re-imported. "
                                        "The contact must re-subscribe to get back on the list.")
                continue
            existing = stored.get(key)
            if existing is not None and existing["status"] != "archived" and not update_existing:
                refuse("ERROR_CONTACT_EXISTS", f"{email} is already a list member. Use PUT to insert or update.")
                continue
            record = existing or {"id": key, "email_address": email, "tags": [], "merge_fields": {}}
            record["status"] = member["status"]
            record["merge_fields"] = {**record["merge_fields"], **(member.get("merge_fields") or {})}
            for tag in member.get("tags") or []:
                if tag not in record["tags"]:
                    record["tags"].append(tag)
            (updated if existing is not None else created).append(dict(record))
            stored[key] = record
    return {"new_members": created, "updated_members": updated, "errors": errors, "total_created": len(created),
            "total_updated": len(updated), "error_count": len(errors)}
