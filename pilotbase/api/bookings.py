"""Bookings over the API: the same domain functions as the browser pages."""

from __future__ import annotations

from flask import request
from flask_babel import lazy_gettext as _l

from ..domain import bookings, scenarios
from ..domain.errors import NotFound, ValidationFailed
from ..domain.permissions import authorize
from ..domain.timeutil import local
from ..extensions import db
from ..models import Bay, Booking, Firm, Robot, Role
from . import api_user, bp, json_response, paginate, parse_body, parse_query, write
from .schemas import (BookingCreate, BookingList, BookingOut, BookingPatch, BookingQuery, OptionalReasonBody,
                      ReasonBody)
from .spec import operation

EXAMPLE = {"id": 42, "bay_id": 3, "firm_id": 7, "start": "2026-12-01T09:00:00+08:00",
           "end": "2026-12-01T11:00:00+08:00", "status": "pending", "purpose": "Hand-over trials",
           "scenario_id": None, "robot_id": None, "series_id": None, "decision_reason": "",
           "created_at": "2026-11-24T10:00:00+08:00", "updated_at": "2026-11-24T10:00:00+08:00"}


def booking_payload(b: Booking) -> dict:
    return {"id": b.id, "bay_id": b.bay_id, "firm_id": b.firm_id, "start": local(b.starts_at).isoformat(),
            "end": local(b.ends_at).isoformat(), "status": b.status.value, "purpose": b.purpose,
            "scenario_id": b.scenario_id, "robot_id": b.robot_id, "series_id": b.series_id, "decision_reason": b.decision_reason,
            "created_at": local(b.created_at).isoformat(), "updated_at": local(b.updated_at).isoformat()}


def _unknown(field: str):
    message = _l("No such object.")
    return ValidationFailed(message, fields={field: [message]})


@bp.get("/bookings")
@operation(summary="Bookings", who="firm users: their firm's; everyone else: all", response=BookingList,
           query=BookingQuery, paginated=True, tags=("bookings",))
def list_bookings():
    user = api_user()
    authorize(user, "booking.view")
    q = parse_query(BookingQuery)
    return json_response(paginate(bookings.bookings_query(user, status=q.status or "", bay_id=q.bay_id,
                                                          start=q.from_, end=q.to), booking_payload))


@bp.post("/bookings")
@operation(summary="Request a booking", who="firm users (own firm, verified), operators and admins (firm_id)",
           request=BookingCreate, response=BookingOut, status=201, creates=True, example=EXAMPLE,
           errors=("forbidden", "slot_taken", "slot_blocked", "rule_violation"), tags=("bookings",),
           description="The booking starts `pending`. A 409 `slot_taken` body adds `conflicts` (intervals only).")
@write(creates=True)
def create_booking():
    user = api_user()
    authorize(user, "booking.request")
    body = parse_body(BookingCreate)
    bay = db.session.get(Bay, body.bay_id)
    if bay is None:
        raise _unknown("bay_id")
    scenario = None
    if body.scenario_id is not None:
        try:
            scenario = scenarios.get_scenario(user, body.scenario_id)
        except NotFound:
            raise _unknown("scenario_id") from None
    robot = None
    if body.robot_id is not None:
        robot = db.session.get(Robot, body.robot_id)
        if robot is None or (user.role is Role.FIRM and robot.firm_id != user.firm_id):
            raise _unknown("robot_id")
    firm = None
    if body.firm_id is not None:
        firm = db.session.get(Firm, body.firm_id)
        if firm is None:
            raise _unknown("firm_id")
    booking = bookings.request_booking(user, bay=bay, start=body.start, end=body.end, purpose=body.purpose,
                                       firm=firm, scenario=scenario, robot=robot)
    return booking_payload(booking), 201


@bp.get("/bookings/<int:booking_id>")
@operation(summary="One booking", who="as the list", response=BookingOut, errors=("not_found",),
           tags=("bookings",), example=EXAMPLE)
def get_booking(booking_id: int):
    return json_response(booking_payload(bookings.get_booking(api_user(), booking_id)))


@bp.patch("/bookings/<int:booking_id>")
@operation(summary="Move or re-describe a booking",
           who="the owner firm while pending and before the start; operators and admins while pending or approved",
           request=BookingPatch, response=BookingOut, tags=("bookings",),
           errors=("forbidden", "not_found", "slot_taken", "slot_blocked", "rule_violation", "invalid_transition"))
@write()
def patch_booking(booking_id: int):
    user = api_user()
    booking = bookings.get_booking(user, booking_id)
    authorize(user, "booking.edit", booking)  # 403 before any body parsing
    body = parse_body(BookingPatch)
    bookings.edit(user, booking, start=body.start, end=body.end, purpose=body.purpose)
    return booking_payload(booking), 200


def _action(booking_id: int, fn, action: str, body_model=None):
    """Load (404 for another firm's), check the role (403), then one domain transition."""
    user = api_user()
    booking = bookings.get_booking(user, booking_id)
    authorize(user, action, booking)
    if body_model is ReasonBody:
        fn(user, booking, parse_body(ReasonBody).reason)
    elif body_model is OptionalReasonBody:
        # An empty body is fine here: the reason is optional.
        fn(user, booking, (parse_body(OptionalReasonBody).reason or "") if request.get_data() else "")
    else:
        fn(user, booking)
    return booking_payload(booking), 200


_ACTION_ERRORS = ("forbidden", "not_found", "invalid_transition")


@bp.post("/bookings/<int:booking_id>/approve")
@operation(summary="Approve a pending booking", who="operators and admins", response=BookingOut,
           errors=_ACTION_ERRORS, tags=("bookings",))
@write()
def approve_booking(booking_id: int):
    return _action(booking_id, bookings.approve, "booking.decide")


@bp.post("/bookings/<int:booking_id>/reject")
@operation(summary="Reject a pending booking (reason required)", who="operators and admins",
           request=ReasonBody, response=BookingOut, errors=_ACTION_ERRORS, tags=("bookings",))
@write()
def reject_booking(booking_id: int):
    return _action(booking_id, bookings.reject, "booking.decide", ReasonBody)


@bp.post("/bookings/<int:booking_id>/cancel")
@operation(summary="Cancel a booking", who="the owner firm before the start; operators and admins any time",
           request=OptionalReasonBody, response=BookingOut, errors=_ACTION_ERRORS, tags=("bookings",))
@write()
def cancel_booking(booking_id: int):
    return _action(booking_id, bookings.cancel, "booking.cancel", OptionalReasonBody)


@bp.post("/bookings/<int:booking_id>/complete")
@operation(summary="Mark an approved booking completed (after its start)", who="operators and admins",
           response=BookingOut, errors=_ACTION_ERRORS, tags=("bookings",))
@write()
def complete_booking(booking_id: int):
    return _action(booking_id, bookings.complete, "booking.decide")


@bp.post("/bookings/<int:booking_id>/no-show")
@operation(summary="Mark an approved booking as a no-show (after its start)", who="operators and admins",
           response=BookingOut, errors=_ACTION_ERRORS, tags=("bookings",))
@write()
def no_show_booking(booking_id: int):
    return _action(booking_id, bookings.mark_no_show, "booking.decide")

