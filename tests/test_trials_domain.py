"""Trial rules without a client: content sniffing and the robot hold."""

from __future__ import annotations

import pytest

from pilotbase.domain.trials import sniff


@pytest.mark.parametrize("head,name,expected", [
    (b"%PDF-1.7\n", "report.pdf", "application/pdf"),
    (b"%PDF-1.7\n", "report.png", "application/pdf"),          # the bytes decide, not the name
    (b"\x89PNG\r\n\x1a\n\x00\x00", "shot.jpg", "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "photo.jpg", "image/jpeg"),
    (b"GIF89a\x01\x00", "anim.gif", "image/gif"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "pic.webp", "image/webp"),
    (b"\x00\x00\x00\x18ftypmp42", "run.mp4", "video/mp4"),
    (b"\x00\x00\x00\x14ftypqt  ", "run.mov", "video/quicktime"),
    (b"\x1a\x45\xdf\xa3\x9f", "run.webm", "video/webm"),
    ("时间,力\n0.1,12.5\n".encode(), "force.csv", "text/csv"),
    (b"2026-11-24 10:00:01 INFO stop\n", "robot.log", "text/plain"),
])
def test_accepted_types(head, name, expected):
    assert sniff(head, name) == expected


@pytest.mark.parametrize("head,name", [
    (b"MZ\x90\x00\x03", "tool.exe"),
    (b"PK\x03\x04", "archive.zip"),
    (b"<html><script>alert(1)</script>", "page.html"),
    (b"plain text but\x00with a NUL", "data.csv"),
    (b"\xff\xfe\xfa broken utf-8 in the middle", "x.log"),
    (b"#!/bin/sh\nrm -rf /\n", "run.sh"),
])
def test_refused_types(head, name):
    assert sniff(head, name) is None


def test_holding_incidents_for_a_page_of_robots_is_one_query(app, users):
    from sqlalchemy import event

    from pilotbase.domain import trials
    from pilotbase.extensions import db
    from pilotbase.models import User

    with app.app_context():
        firm = db.session.get(User, users["firm"].id)
        robots = [trials.register_robot(firm, {"name": f"R{i}", "robot_type": "amr", "manufacturer": "M",
                                               "model": "X", "serial_number": f"S{i}"}) for i in range(5)]
        db.session.commit()
        ids = [r.id for r in robots]
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731
        event.listen(db.engine, "before_cursor_execute", listener)
        try:
            held = trials.holding_incidents_of(ids)
        finally:
            event.remove(db.engine, "before_cursor_execute", listener)
        assert held == {i: [] for i in ids}
        assert len([s for s in statements if not s.startswith("BEGIN")]) == 1
