"""JSON API v1: bearer-token auth, validation, pagination and Idempotency-Key.

Endpoints live in the modules imported at the end; each declares its OpenAPI operation
with ``@operation`` and calls the same domain functions as the HTML views.
"""

from __future__ import annotations

import hashlib
import json
import re
from functools import wraps
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, g, request
from flask_babel import lazy_gettext as _l
from pydantic import BaseModel
from pydantic import ValidationError as PydanticError
from sqlalchemy.exc import IntegrityError

from ..domain import accounts
from ..domain.errors import DomainError, ValidationFailed
from ..errors import error_response
from ..extensions import csrf, db, limiter
from ..models import IdempotencyRecord

bp = Blueprint("api", __name__, url_prefix="/api/v1")
docs_bp = Blueprint("api_docs", __name__, url_prefix="/docs")
csrf.exempt(bp)  # bearer tokens, not cookies: nothing for a cross-site form to ride on

Model = TypeVar("Model", bound=BaseModel)
MAX_PER_PAGE = 100


def _rate_limit_key() -> str:
    header = request.headers.get("Authorization", "")
    if header:
        return "api-token:" + hashlib.sha256(header.encode()).hexdigest()
    return "api-addr:" + (request.remote_addr or "")


limiter.limit(lambda: current_app.config["API_RATE_LIMIT"], key_func=_rate_limit_key)(bp)


@bp.before_request
def _authenticate():
    view = current_app.view_functions.get(request.endpoint or "")
    op = getattr(view, "openapi", None)
    g.api_user = None
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() == "bearer" and secret.strip():
        g.api_user = accounts.resolve_token(secret.strip())
        if db.session.dirty:
            # The token's "last used" stamp (at most once a minute) is a transaction of its own: the
            # token was used whatever the request then does, and a request that only reads commits
            # nothing else. Left to the request, it was rolled back with every read, and on
            # PostgreSQL that rollback also dropped the connection's prepared statements.
            db.session.commit()
    if g.api_user is None and (header or not (op is not None and op.public)):
        if view is None:
            return None  # unknown path: let routing answer 404/405
        return error_response(401, "unauthorized", _l("A valid API token is required (Authorization: Bearer …)."))
    return None


def api_user():
    return g.api_user


def _pydantic_fields(exc: PydanticError) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for err in exc.errors():
        name = ".".join(str(p) for p in err["loc"]) or "body"
        fields.setdefault(name, []).append(_translate_pydantic(err))
    return fields


def _translate_pydantic(err: dict) -> str:
    kind = err.get("type", "")
    if kind == "missing":
        return str(_l("This field is required."))
    if kind == "extra_forbidden":
        return str(_l("Unknown field."))
    if kind == "instant_range":
        return str(_l("Enter a date between %(low)s and %(high)s.", **err.get("ctx", {})))
    if kind.startswith("datetime") or kind == "timezone_aware":
        return str(_l("Give an RFC 3339 date-time with an offset, e.g. 2026-12-01T09:00:00+08:00."))
    if kind in ("int_parsing", "int_type", "float_parsing", "float_type"):
        return str(_l("Enter a number."))
    if kind in ("string_too_long", "too_long"):
        return str(_l("The value is too long."))
    if kind in ("literal_error", "enum"):
        return str(_l("Choose one of the allowed values."))
    return str(_l("This value is not valid."))


def parse_body(model: type[Model]) -> Model:
    """The JSON body validated against ``model``; 400 when it is not a JSON object, 422 when invalid."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadBody(_l("The body must be a JSON object."))
    if bad := _nul_paths(data):  # valid JSON ("\u0000"), but no text column can hold it
        raise ValidationFailed(_l("Some fields are missing or not valid."),
                               fields={path: [_l("This value is not valid.")] for path in bad})
    try:
        return model.model_validate(data)
    except PydanticError as exc:
        raise ValidationFailed(_l("Some fields are missing or not valid."), fields=_pydantic_fields(exc)) from None


def _nul_paths(value, path: str = "") -> list[str]:
    """Where a NUL character hides in a parsed JSON value (keys included), as dotted paths."""
    if isinstance(value, str):
        return [path or "body"] if "\x00" in value else []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    found = []
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        found += [where] if isinstance(key, str) and "\x00" in key else []
        found += _nul_paths(item, where)
    return found


def parse_query(model: type[Model]) -> Model:
    """Query-string arguments validated against ``model`` (422 when invalid)."""
    args = {k: _plus_restored(v) for k, v in request.args.items() if k not in ("page", "per_page")}
    try:
        return model.model_validate(args)
    except PydanticError as exc:
        raise ValidationFailed(_l("Some query parameters are not valid."), fields=_pydantic_fields(exc)) from None


def _plus_restored(value: str) -> str:
    """An unencoded "+08:00" arrives as " 08:00"; put the plus back rather than fail the caller."""
    return re.sub(r"^(\d{4}-\d\d-\d\dT[\d:.]+) (\d\d:\d\d)$", r"\1+\2", value)


class BadBody(DomainError):
    status = 400
    code = "bad_request"


def _page_args() -> tuple[int, int]:
    fields = {}
    values = {}
    for name, default, top in (("page", 1, None), ("per_page", 50, MAX_PER_PAGE)):
        raw = request.args.get(name, str(default))
        try:
            value = int(raw)
            if value < 1 or (top is not None and value > top):
                raise ValueError
        except ValueError:
            fields[name] = [_l("Enter a whole number from 1 to %(top)s.", top=top or "…")]
            continue
        values[name] = value
    if fields:
        raise ValidationFailed(_l("Some query parameters are not valid."), fields=fields)
    return values["page"], values["per_page"]


def paginate(query: sa.Select, serialize: Callable[[Any], dict]) -> dict:
    """``{"items", "page", "per_page", "total"}`` for a select, one COUNT and one page query."""
    page, per_page = _page_args()
    total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery()))
    offset = (page - 1) * per_page
    # A page past the end is empty; not asking the database also keeps an absurd page number from
    # overflowing its integer OFFSET.
    rows = db.session.scalars(query.limit(per_page).offset(offset)).unique() if offset < total else []
    return {"items": [serialize(r) for r in rows], "page": page, "per_page": per_page, "total": total}


def json_response(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)
    return Response(body, status=status, mimetype="application/json")


def write(creates: bool = False) -> Callable:
    """Run a state-changing API view as one transaction.

    The view returns ``(payload, status)``; on success this commits once. With
    ``creates=True`` an ``Idempotency-Key`` header replays the first response for the
    same body and refuses a different body with 422.
    """

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            key = request.headers.get("Idempotency-Key", "").strip() if creates else ""
            if key:
                digest = _request_digest()
                replay = _replay(key, digest)
                if replay is not None:
                    return replay
            payload, status = view(*args, **kwargs)
            response = json_response(payload, status)
            if key:
                db.session.add(IdempotencyRecord(
                    user_id=g.api_user.id, key=key[:200], method=request.method, path=request.path,
                    request_hash=digest, status_code=status, response_body=response.get_data(as_text=True)))
            try:
                db.session.commit()
            except IntegrityError:
                db.session.rollback()
                if key:  # a concurrent request with the same key won the race
                    replay = _replay(key, digest)
                    if replay is not None:
                        return replay
                raise
            return response

        return wrapper

    return decorate


def _request_digest() -> str:
    """What identifies a request for Idempotency-Key: method, path and body. Uploads are hashed
    file by file from their streams, so a large file is never held in memory twice."""
    digest = hashlib.sha256(request.method.encode() + request.path.encode() + b"\0")
    if request.mimetype == "multipart/form-data":
        # A part without a name (Content-Disposition: form-data alone) has the name None.
        for name, upload in sorted(request.files.items(multi=True), key=lambda pair: pair[0] or ""):
            digest.update((name or "").encode() + b"\0" + (upload.filename or "").encode() + b"\0")
            while chunk := upload.stream.read(1024 * 1024):
                digest.update(chunk)
            upload.stream.seek(0)
        for name, value in sorted(request.form.items(multi=True), key=lambda pair: (pair[0] or "", pair[1])):
            digest.update((name or "").encode() + b"=" + value.encode() + b"\0")
    else:
        digest.update(request.get_data())
    return digest.hexdigest()


def _replay(key: str, digest: str) -> Response | None:
    record = db.session.scalar(sa.select(IdempotencyRecord).where(
        IdempotencyRecord.user_id == g.api_user.id, IdempotencyRecord.key == key[:200]))
    if record is None:
        return None
    if record.request_hash != digest:
        raise ValidationFailed(
            _l("This Idempotency-Key was already used with a different request."),
            fields={"Idempotency-Key": [_l("Use a new key for a different request.")]})
    response = Response(record.response_body, status=record.status_code, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response


from . import bays, bookings, docs, me, scenarios, targets, trials  # noqa: E402,F401  (register the endpoints)
