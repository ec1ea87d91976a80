"""The one interface through which uploaded files are stored.

Files are kept under random names (never the uploader's), so a name reveals nothing and
cannot traverse directories. With several app servers, ``UPLOAD_DIR`` must be shared
storage; another backend (an object store) only has to implement ``FileStorage``.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import Flask, current_app

CHUNK = 1024 * 1024


class StorageError(Exception):
    """The file could not be stored (e.g. it was larger than allowed)."""


class FileStorage(Protocol):
    def save(self, stream: BinaryIO, max_bytes: int) -> tuple[str, int]: ...
    def open(self, key: str) -> BinaryIO: ...
    def delete(self, key: str) -> None: ...


class LocalFileStorage:
    """Files in a directory, two levels of fan-out, written atomically (temp file + rename)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if len(key) != 32 or not all(c in "0123456789abcdef" for c in key):
            raise KeyError(key)
        return self.root / key[:2] / key

    def save(self, stream: BinaryIO, max_bytes: int) -> tuple[str, int]:
        """Copy ``stream`` into storage; returns ``(key, size)``. Nothing stays behind on failure."""
        key = secrets.token_hex(16)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".part")
        size = 0
        try:
            with tmp.open("wb") as out:
                while chunk := stream.read(CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        raise StorageError(f"larger than {max_bytes} bytes")
                    out.write(chunk)
            tmp.rename(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return key, size

    def open(self, key: str) -> BinaryIO:
        return self._path(key).open("rb")

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def init_app(app: Flask) -> None:
    app.extensions["pilotbase.storage"] = LocalFileStorage(app.config["UPLOAD_DIR"])


def storage() -> FileStorage:
    return current_app.extensions["pilotbase.storage"]
