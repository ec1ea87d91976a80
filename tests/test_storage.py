"""The upload storage interface: random names, size limit, nothing half-written."""

from __future__ import annotations

import io

import pytest

from pilotbase.storage import LocalFileStorage, StorageError


def test_save_open_delete(tmp_path):
    store = LocalFileStorage(tmp_path)
    key, size = store.save(io.BytesIO(b"evidence" * 1000), max_bytes=10_000)
    assert size == 8000 and len(key) == 32
    with store.open(key) as handle:
        assert handle.read() == b"evidence" * 1000
    store.delete(key)
    with pytest.raises(FileNotFoundError):
        store.open(key)


def test_oversized_upload_leaves_nothing_behind(tmp_path):
    store = LocalFileStorage(tmp_path)
    with pytest.raises(StorageError):
        store.save(io.BytesIO(b"x" * 5000), max_bytes=4096)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("key", ["../../etc/passwd", "a" * 31, "Z" * 32, ""])
def test_keys_cannot_escape_the_directory(tmp_path, key):
    with pytest.raises(KeyError):
        LocalFileStorage(tmp_path).open(key)


def test_app_uses_the_configured_directory(app, tmp_path):
    from pilotbase.storage import storage

    with app.app_context():
        key, _ = storage().save(io.BytesIO(b"hi"), max_bytes=10)
    assert (tmp_path / "uploads" / key[:2] / key).read_bytes() == b"hi"
