"""GET /me and the OpenAPI document."""

from __future__ import annotations

from flask import current_app

from . import api_user, bp, json_response
from .schemas import FirmRef, MeOut
from .spec import build_openapi, operation


def me_payload(user) -> dict:
    firm = FirmRef.model_validate(user.firm).model_dump(mode="json") if user.firm else None
    return MeOut(id=user.id, email=user.email, name=user.name, role=user.role.value, firm=firm).model_dump(mode="json")


@bp.get("/me")
@operation(summary="The caller's account", who="any signed-in caller", response=MeOut, tags=("accounts",),
           example={"id": 7, "email": "lin@robotics.example", "name": "Lin Wei", "role": "firm",
                    "firm": {"id": 3, "name": "Hangzhou Example Robotics", "status": "verified"}})
def me():
    return json_response(me_payload(api_user()))


@bp.get("/openapi.json")
@operation(summary="This OpenAPI 3 document", who="anyone", public=True, tags=("meta",))
def openapi():
    return json_response(build_openapi(current_app))
