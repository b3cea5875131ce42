"""Where the token signing keys are kept: what a :class:`~.tokens.KeyRing` asks of a store,
and the store of the embedded configuration, a directory of files.

A store holds each key's private PEM under its ``kid``, knows which key signs (the active
one) and when each other key was retired. The key ring decides when to rotate and prune; a
store only keeps the record. The other store, a table of a shared control database, is
:class:`workanalytics.control.signing_keys.DatabaseKeyStore`.

In ``DATA_DIR/keys`` (mode 0700) each key is ``KID.pem`` (mode 0600, written once), the
active kid is the file ``active`` (replaced atomically), and a retired key has
``KID.retired`` holding the epoch second it was retired at.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from workanalytics.filelock import exclusive


class KeyStore(Protocol):
    """The record of signing keys behind a key ring."""

    def active_kid(self) -> str | None:
        """The kid that signs new tokens, or None before the first key."""
        ...

    def install(self, kid: str, pem: bytes, now: int, *, only_if_none: bool = False) -> str:
        """Keep ``pem`` as ``kid`` and make it the signer, retiring the previous one at
        ``now``; with ``only_if_none``, only if there is no signer yet. The signer's kid."""
        ...

    def stamp(self, kid: str) -> object | None:
        """What changes when ``kid``'s key does (a cache key), or None when it is not known
        without reading it."""
        ...

    def load(self, kid: str) -> bytes | None:
        """``kid``'s private PEM, or None when there is no such key."""
        ...

    def retired(self) -> list[tuple[str, int]]:
        """Every retired kid with the epoch second it was retired at."""
        ...

    def remove(self, kids: list[str]) -> None:
        """Forget these keys for good."""
        ...


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


class FileKeyStore:
    """Signing keys as files of one data directory, readable by their owner only."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def _active_file(self) -> Path:
        return self.directory / "active"

    def active_kid(self) -> str | None:
        try:
            return self._active_file().read_text().strip() or None
        except FileNotFoundError:
            return None

    def install(self, kid: str, pem: bytes, now: int, *, only_if_none: bool = False) -> str:
        self.directory.mkdir(parents=True, exist_ok=True)
        os.chmod(self.directory, 0o700)
        # The CLI and a server (or two starting at once) may both find no key: one makes it.
        with exclusive(self.directory / ".lock"):
            old = self.active_kid()
            if only_if_none and old is not None:
                return old
            _write_private(self.directory / f"{kid}.pem", pem)
            tmp = self.directory / "active.tmp"
            tmp.write_text(kid)
            os.replace(tmp, self._active_file())
            if old:
                (self.directory / f"{old}.retired").write_text(str(now))
        return kid

    def stamp(self, kid: str) -> object | None:
        try:
            return (self.directory / f"{kid}.pem").stat().st_mtime
        except FileNotFoundError:
            return None

    def load(self, kid: str) -> bytes | None:
        try:
            return (self.directory / f"{kid}.pem").read_bytes()
        except FileNotFoundError:
            return None

    def retired(self) -> list[tuple[str, int]]:
        found = []
        for marker in self.directory.glob("*.retired"):
            found.append((marker.stem, int(marker.read_text().strip() or 0)))
        return found

    def remove(self, kids: list[str]) -> None:
        for kid in kids:
            (self.directory / f"{kid}.pem").unlink(missing_ok=True)
            (self.directory / f"{kid}.retired").unlink(missing_ok=True)
