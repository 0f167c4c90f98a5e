"""The collect endpoint: Segment's HTTP Tracking API, answering 200 only once spooled.

A plain ASGI app rather than a web framework: the hot path is a dict lookup, a body
read, orjson, and a group commit, so a single process acknowledges tens of thousands
of events per second. It never opens the warehouse; the loader does that later.

Routes:
    POST /v1/{track,identify,page,screen,group,alias,batch,import} and /v1/{t,i,p,s,g,a,b}
    POST /webhooks/{vendor}/{source}           signed Shopify / Stripe webhooks
    GET  /v1/projects/{writeKey}/settings      what analytics.js loads from its CDN
    GET  /health, GET /metrics
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import zlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import orjson

from headwater.config import EventsSourceConfig, HeadwaterConfig, load_config
from headwater.suppression import SuppressionList
from sources.collect import spool
from sources.collect.group_commit import GroupCommitter, SpoolUnavailable
from sources.collect.messages import (PATH_TYPES, InvalidMessage, enrich, format_timestamp, new_message_ids,
                                      utc_now, validate)
from sources.collect.metrics import CollectMetrics
from sources.collect.storable import check_storable, pruned, scrub_write_keys, without_write_key
from sources.tracking_plan.enforce import REJECTED_BY_PLAN, enforcers, hold_back

log = logging.getLogger("headwater.collect")

JSON_HEADERS = [(b"content-type", b"application/json")]
WEBHOOK_MAX_BYTES = 5 * 1024 * 1024
ACCEPTED_CONTENT_TYPES = (b"application/json", b"text/plain", b"")
OK_BODY = b'{"success":true}'


@dataclass
class Reply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]


def reply_reason(reply: Reply) -> str:
    return orjson.loads(reply.body)["error"]


def json_reply(status: int, payload: dict) -> Reply:
    return Reply(status, orjson.dumps(payload), JSON_HEADERS)


def error_reply(status: int, message: str, **details) -> Reply:
    """Errors carry `error` plus the `code`/`message` pair the Segment and RudderStack SDKs parse."""
    code = {400: "invalid_request", 401: "unauthorized", 404: "not_found", 405: "method_not_allowed",
            413: "payload_too_large", 415: "unsupported_media_type"}.get(status, "server_error")
    return json_reply(status, {"success": False, "error": message, "code": code, "message": message, **details})


class RequestRejected(Exception):
    def __init__(self, reply: Reply, reason: str):
        self.reply, self.reason = reply, reason


class WriteKeys:
    """Maps write keys to sources, comparing in constant time.

    Every configured key is compared on every lookup, so timing reveals neither which key
    matched nor how much of a guess was right.
    """

    def __init__(self, sources: list[EventsSourceConfig]):
        self._keys = [(source.write_key.get_secret_value().encode(), source) for source in sources]

    def secrets(self) -> list[str]:
        """Every configured key, for scrubbing them out of text that is kept."""
        return [key.decode() for key, _ in self._keys]

    def find(self, candidate: str | bytes | None) -> EventsSourceConfig | None:
        if not candidate:
            return None
        if isinstance(candidate, str):
            candidate = candidate.encode("utf-8", "surrogateescape")
        found = None
        for key, source in self._keys:
            if hmac.compare_digest(key, candidate):
                found = source
        return found


def _basic_username(header: bytes | None) -> bytes | None:
    if not header or not header[:6].lower() == b"basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return decoded.split(b":", 1)[0]


class CollectApp:
    def __init__(self, config: HeadwaterConfig, writer_name: str | None = None):
        self.config = config
        self.limits = config.collect
        self.spool_dir = Path(config.collect.spool_dir)
        self.write_keys = WriteKeys(config.events_sources())
        self.sources_by_name = {source.name: source for source in config.sources}
        self.metrics = CollectMetrics(self.spool_dir)
        self.suppressions = SuppressionList(config.privacy.suppression_file)
        self.plans = enforcers(config.tracking_plan)  # source name -> compiled plan and policies
        self.writer_name = writer_name
        self.committer: GroupCommitter | None = None

    # --- lifecycle -----------------------------------------------------------------
    async def startup(self) -> None:
        writer = spool.SpoolWriter(self.spool_dir, name=self.writer_name or spool.writer_name(),
                                   rotate_bytes=self.limits.rotate_bytes,
                                   rotate_seconds=self.limits.rotate_seconds)
        self.committer = GroupCommitter(writer, observe_fsync=self.metrics.fsync_seconds.observe)
        self.committer.start()

    async def shutdown(self) -> None:
        if self.committer is not None:
            await self.committer.close()

    # --- ASGI --------------------------------------------------------------------
    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        headers = dict(scope["headers"])
        try:
            reply = await self._route(scope, headers, receive)
        except RequestRejected as rejected:
            self.metrics.messages_rejected.labels(rejected.reason).inc()
            reply = rejected.reply
        except SpoolUnavailable as error:
            log.error("spool unavailable: %s", error)
            reply = error_reply(503, "the event spool is unavailable; retry later")
        except Exception:  # noqa: BLE001 - a client must never see a stack trace
            log.exception("unexpected error on %s %s", scope.get("method"), scope.get("path"))
            reply = error_reply(500, "internal error")
        await send({"type": "http.response.start", "status": reply.status,
                    "headers": reply.headers + self._cors(headers)})
        await send({"type": "http.response.body", "body": reply.body})

    async def _lifespan(self, receive, send) -> None:
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as error:  # noqa: BLE001
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    def _cors(headers: dict) -> list[tuple[bytes, bytes]]:
        origin = headers.get(b"origin")
        if not origin:
            return []
        return [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-credentials", b"true"),
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", b"Content-Type, Authorization, Content-Encoding"),
            (b"access-control-max-age", b"86400"),
            (b"vary", b"Origin"),
        ]

    async def _route(self, scope, headers: dict, receive) -> Reply:
        method, path = scope["method"], scope["path"].rstrip("/")
        if method == "OPTIONS":
            return Reply(204, b"", [])
        parts = path.split("/")
        if method == "POST" and len(parts) == 3 and parts[1] == "v1" and parts[2] in PATH_TYPES:
            return await self._track_api(PATH_TYPES[parts[2]], scope, headers, receive)
        if method == "POST" and path == "/v1/regulations":
            from sources.collect import regulations
            return await regulations.handle(self, headers, receive)
        if method == "POST" and len(parts) == 4 and parts[1] == "webhooks":
            return await self._webhook(parts[2], parts[3], headers, receive)
        if method == "GET":
            if path == "/health":
                return json_reply(200, {"ok": True})
            if path == "/metrics":
                return Reply(200, self.metrics.exposition(), [(b"content-type", b"text/plain; version=0.0.4")])
            if len(parts) == 5 and parts[1] == "v1" and parts[2] == "projects" and parts[4] == "settings":
                return self._settings(parts[3], scope, headers)
        if path in ("/health", "/metrics") or (len(parts) == 3 and parts[1] == "v1"):
            return error_reply(405, f"{method} is not allowed on {path}")
        return error_reply(404, f"no route for {method} {path}")

    # --- request bodies ----------------------------------------------------------
    async def _read_body(self, headers: dict, receive, limit: int) -> bytes:
        content_type = headers.get(b"content-type", b"").split(b";", 1)[0].strip().lower()
        if content_type not in ACCEPTED_CONTENT_TYPES:
            raise RequestRejected(error_reply(415, "send the body as application/json or text/plain"),
                                  "content_type")
        declared = headers.get(b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            raise self._too_large(limit)
        chunks, size = [], 0
        while True:
            event = await receive()
            if event["type"] == "http.disconnect":
                raise RequestRejected(error_reply(400, "client disconnected"), "disconnect")
            chunk = event.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self._too_large(limit)
            chunks.append(chunk)
            if not event.get("more_body"):
                break
        body = b"".join(chunks)
        encoding = headers.get(b"content-encoding", b"").strip().lower()
        if encoding == b"gzip":
            body = self._gunzip(body, limit)
        elif encoding not in (b"", b"identity"):
            raise RequestRejected(error_reply(415, "Content-Encoding must be gzip or identity"), "encoding")
        self.metrics.bytes_received.inc(len(body))
        return body

    def _gunzip(self, body: bytes, limit: int) -> bytes:
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = inflater.decompress(body, limit + 1)
        except zlib.error:
            raise RequestRejected(error_reply(400, "the body is not valid gzip", field="(body)"), "gzip") from None
        if len(data) > limit or inflater.unconsumed_tail:
            raise self._too_large(limit)
        if not inflater.eof or inflater.unused_data:
            # a cut stream, or a second member we would silently ignore: neither is what was sent
            raise RequestRejected(error_reply(400, "the body must be exactly one complete gzip stream",
                                              field="(body)"), "gzip")
        return data

    @staticmethod
    def _too_large(limit: int) -> RequestRejected:
        return RequestRejected(
            error_reply(413, f"the request body exceeds the {limit // 1024} KB limit", limit_bytes=limit),
            "body_too_large")

    def _authenticate(self, headers: dict, payload) -> EventsSourceConfig:
        username = _basic_username(headers.get(b"authorization"))
        candidate = username if username else (payload.get("writeKey") if isinstance(payload, dict) else None)
        if candidate is not None and not isinstance(candidate, (str, bytes)):
            candidate = None
        source = self.write_keys.find(candidate)
        if source is None:
            reason = "no write key: send it as the Basic-auth username" if not candidate else "unknown write key"
            raise RequestRejected(error_reply(401, reason), "unauthorized")
        return source

    # --- the Tracking API --------------------------------------------------------
    async def _track_api(self, kind: str, scope, headers: dict, receive) -> Reply:
        limit = self.limits.max_batch_bytes if kind == "batch" else self.limits.max_message_bytes * 4
        body = await self._read_body(headers, receive, limit)
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            reply = error_reply(400, f"the body is not valid JSON: {error.msg}", field="(body)")
            if _basic_username(headers.get(b"authorization")):
                source = self._authenticate(headers, None)
                raw = scrub_write_keys(body.decode("utf-8", "replace"), self.write_keys.secrets())
                await self._quarantine(source, [{"reason": reply_reason(reply), "field": "(body)", "index": None,
                                                 "raw": raw}])
            raise RequestRejected(reply, "invalid_json") from None
        source = self._authenticate(headers, payload)
        if not isinstance(payload, dict):
            raise RequestRejected(error_reply(400, "the body must be a JSON object", field="(body)"), "invalid_json")

        if kind == "batch":
            messages = payload.get("batch")
            if not isinstance(messages, list) or not messages:
                raise RequestRejected(error_reply(400, "a batch needs a non-empty `batch` array", field="batch"),
                                      "invalid_batch")
            if len(messages) > self.limits.max_batch_messages:
                raise RequestRejected(error_reply(
                    400, f"a batch holds at most {self.limits.max_batch_messages} messages, got {len(messages)}",
                    field="batch", limit_messages=self.limits.max_batch_messages), "batch_too_many")
            batch_info, message_type = payload, None
        else:
            messages, batch_info, message_type = [payload], None, kind

        received_at = utc_now()
        accepted, rejected = self._prepare(messages, message_type, batch_info, received_at, scope, body)
        plan = self.plans.get(source.name)
        held = hold_back(plan, accepted) if plan is not None and accepted else []
        record_parts = []
        if accepted:
            record = {"source": source.name, "kind": "events", "received_at": format_timestamp(received_at),
                      "messages": accepted}
            if plan is not None:
                record["plan"] = plan.version  # the loader re-checks only batches of another plan version
            record_parts.append(spool.encode(record))
        if rejected or held:
            record_parts.append(spool.encode({"source": source.name, "kind": "quarantine",
                                              "received_at": format_timestamp(received_at),
                                              "items": [{"reason": r["reason"], "field": r["field"],
                                                         "index": r["index"], "raw": r.pop("raw")}
                                                        for r in rejected] + held}))
        if record_parts:
            await self.committer.commit(b"".join(record_parts))
        if rejected:
            self.metrics.messages_rejected.labels("invalid_message").inc(len(rejected))
        if held:
            self.metrics.messages_rejected.labels(REJECTED_BY_PLAN).inc(len(held))
        if not accepted and not held:
            if not rejected:
                return Reply(200, OK_BODY, JSON_HEADERS)  # every message was suppressed
            first = rejected[0]
            if kind != "batch":
                return error_reply(400, first["reason"], field=first["field"])
            return error_reply(400, "every message in the batch is invalid", rejected=rejected)
        # a message the plan quarantined is answered 200 as Segment Protocols does: it is stored
        # (in _quarantine, replayable), and an SDK would only retry an error forever
        if accepted:
            self.metrics.accepted_for(source.name).inc(len(accepted))
        if rejected:
            return json_reply(200, {"success": True, "rejected": rejected})
        return Reply(200, OK_BODY, JSON_HEADERS)

    async def _quarantine(self, source: EventsSourceConfig, items: list[dict]) -> None:
        await self.committer.commit(spool.encode({"source": source.name, "kind": "quarantine",
                                                  "received_at": format_timestamp(utc_now()), "items": items}))

    def _prepare(self, messages: list, message_type: str | None, batch_info: dict | None,
                 received_at: datetime, scope, body: bytes) -> tuple[list[dict], list[dict]]:
        received_text = format_timestamp(received_at)
        client = scope.get("client")
        ip = client[0] if client else None
        max_bytes = self.limits.max_message_bytes
        # no message can be larger than the body it came in: skip measuring small bodies
        check_sizes = len(body) > max_bytes
        # JSON can carry a NUL only as the escape \u0000: without one in the body, skip looking
        may_hold_nul = b"\\u0000" in body
        # a batch's shared context is merged into each message: check the merged message again
        shares = bool(batch_info) and any(isinstance(batch_info.get(key), dict) and batch_info[key]
                                          for key in ("context", "integrations"))
        fresh_ids = new_message_ids(len(messages))
        suppressed = 0
        accepted, rejected = [], []
        for index, message in enumerate(messages):
            try:
                if isinstance(message, dict):
                    check_storable(message, may_hold_nul)
                if check_sizes and len(orjson.dumps(message)) > max_bytes:
                    raise InvalidMessage("(message)", f"exceeds the {max_bytes // 1024} KB message limit")
                validate(message, message_type)
                if self.suppressions.suppresses(message):
                    suppressed += 1  # a person who asked not to be tracked: dropped, counted, not stored
                    continue
                enrich(message, received_at=received_at, received_at_text=received_text, ip=ip, batch=batch_info,
                       new_id=fresh_ids[index])
                if shares:
                    check_storable(message, may_hold_nul)
            except InvalidMessage as error:
                rejected.append({"index": index, "field": error.field,
                                 "reason": f"message {index}: {error}", "raw": pruned(without_write_key(message))})
                continue
            accepted.append(message)
        if suppressed:
            self.metrics.messages_suppressed.inc(suppressed)
        return accepted, rejected

    # --- webhooks ----------------------------------------------------------------
    async def _webhook(self, vendor: str, source_name: str, headers: dict, receive) -> Reply:
        from sources.webhooks import WebhookRejected, receiver

        entry = self.sources_by_name.get(source_name)
        receive_webhook = receiver(vendor)
        if entry is None or receive_webhook is None or entry.type != vendor:
            return error_reply(404, f"no {vendor} source named {source_name!r} is configured")
        body = await self._read_body({**headers, b"content-type": b"application/json"}, receive, WEBHOOK_MAX_BYTES)
        text_headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in headers.items()}
        try:
            record = receive_webhook(entry, text_headers, body, utc_now())
        except WebhookRejected as rejected:
            raise RequestRejected(error_reply(rejected.status, rejected.message), "webhook_rejected") from None
        try:
            framed = spool.encode(record)
        except orjson.JSONEncodeError:  # nested past what the spool's encoder writes (254 levels)
            raise RequestRejected(error_reply(400, "the webhook payload nests too deeply to store", field="(body)"),
                                  "webhook_rejected") from None
        await self.committer.commit(framed)
        self.metrics.messages_accepted.labels(entry.name).inc(len(record.get("messages", [])))
        return Reply(200, OK_BODY, JSON_HEADERS)

    # --- analytics.js settings -----------------------------------------------------
    def _settings(self, write_key: str, scope, headers: dict) -> Reply:
        if self.write_keys.find(write_key) is None:
            return error_reply(404, "unknown write key")
        host = headers.get(b"host", b"").decode("latin-1") or "{}:{}".format(*scope["server"])
        protocol = "https" if scope.get("scheme") == "https" else "http"
        return json_reply(200, {
            "integrations": {"Segment.io": {
                "apiKey": write_key, "apiHost": f"{host}/v1", "protocol": protocol,
                "unbundledIntegrations": [], "addBundledMetadata": True, "maybeBundledConfigIds": {},
                "versionSettings": {"componentTypes": ["browser"]},
            }},
            "plan": {"track": {"__default": {"enabled": True, "integrations": {}}},
                     "identify": {"__default": {"enabled": True}}, "group": {"__default": {"enabled": True}}},
            "edgeFunction": {}, "analyticsNextEnabled": True, "middlewareSettings": {}, "enabledMiddleware": {},
            "metrics": {"sampleRate": 0}, "legacyVideoPluginsEnabled": False, "remotePlugins": [],
        })


def create_app(config: HeadwaterConfig | None = None, writer_name: str | None = None) -> CollectApp:
    return CollectApp(config or load_config(), writer_name)
