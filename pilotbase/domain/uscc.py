"""Unified social credit code (统一社会信用代码), GB 32100-2015."""

from __future__ import annotations

# The 31 characters the standard allows, in the order that gives each its value.
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def check_character(first17: str) -> str:
    """The 18th character for the given first 17."""
    total = sum(ALPHABET.index(ch) * w for ch, w in zip(first17, WEIGHTS))
    return ALPHABET[(31 - total % 31) % 31]


def normalise(code: str) -> str:
    return (code or "").strip().upper()


def is_valid(code: str) -> bool:
    """True when ``code`` is 18 allowed characters whose last is the right check character.

    Positions 9–17 carry the organisation code, whose own check digit the standard
    lets be a letter; we check only what GB 32100 itself defines.
    """
    code = normalise(code)
    if len(code) != 18 or any(ch not in ALPHABET for ch in code):
        return False
    return check_character(code[:17]) == code[17]
