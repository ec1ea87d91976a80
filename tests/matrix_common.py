"""Shared helpers for the authorization matrix modules (tests/matrix_*.py)."""

ROLES = ("anon", "firm", "operator", "official", "admin")


def every(status):
    return dict.fromkeys(ROLES, status)


def signed_in(status, anon=302):
    return {"anon": anon, **dict.fromkeys(ROLES[1:], status)}


def only(allowed: dict, otherwise=403, anon=302):
    out = {"anon": anon, **dict.fromkeys(ROLES[1:], otherwise)}
    out.update(allowed)
    return out
