"""Bandit, the static security checker, finds no medium or high severity issue in pilotbase/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bandit_finds_no_medium_or_high_issue():
    result = subprocess.run([sys.executable, "-m", "bandit", "-r", "pilotbase", "-ll", "-q", "-f", "json"],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    assert not report["errors"], report["errors"]  # a file it could not read was not checked
    findings = [f"{r['filename']}:{r['line_number']} {r['test_id']} {r['issue_severity']}: {r['issue_text']}"
                for r in report["results"]]
    assert not findings, "\n".join(findings)
    assert report["metrics"]["_totals"]["loc"] > 10_000  # it did read the package
