"""One running WZP per data directory: a QLockFile in that directory, and a local socket to reach it.

The running instance listens on a `QLocalServer` named after the data
directory; a second launch for the same directory connects, sends its
command-line arguments (a `wzp:` link) as one line of JSON and exits, and the
running instance brings its window forward and opens the link. What arrives
on the socket is untrusted (any local program can connect): one line of at
most `MAX_MESSAGE` bytes, a JSON list of at most `MAX_ARGS` strings, or it is
dropped.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QLockFile, QObject
from PySide6.QtNetwork import QLocalServer, QLocalSocket

log = logging.getLogger(__name__)

LOCK_FILENAME = "wzp.lock"
MAX_MESSAGE = 8192
MAX_ARGS = 8
CONNECT_MS = 1000


def server_name(data_dir: Path) -> str:
    """The local socket's name: per user and data directory, short enough for a Unix socket path."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name (containers): the data directory alone still separates instances
        user = ""
    digest = hashlib.sha256(f"{user}\0{Path(data_dir).resolve()}".encode()).hexdigest()[:16]
    return f"wzp-{digest}"


def parse_message(data: bytes) -> list[str] | None:
    """The arguments a second launch sent, or None if `data` is not a valid message."""
    if len(data) > MAX_MESSAGE:
        return None
    try:
        value = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(value, list) or len(value) > MAX_ARGS or not all(isinstance(v, str) for v in value):
        return None
    return value


class SingleInstance(QObject):
    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        self.path = Path(data_dir) / LOCK_FILENAME
        self.name = server_name(Path(data_dir))
        self._lock = QLockFile(str(self.path))
        self._lock.setStaleLockTime(0)  # a lock left by a crashed WZP is detected by its dead PID
        self._server: QLocalServer | None = None
        self._on_message: Callable[[list[str]], None] | None = None
        self._buffers: dict[QLocalSocket, bytearray] = {}

    def acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self._lock.tryLock(100)

    def owner_pid(self) -> int | None:
        info = self._lock.getLockInfo()  # PySide6: (pid, hostname, appname), or a falsy value
        if not info or not isinstance(info, tuple):
            return None
        pid = int(info[0])
        return pid if pid > 0 else None

    # ------------------------------------------------------- the running one

    def listen(self, on_message: Callable[[list[str]], None]) -> bool:
        """Accept second launches (call after `acquire`); `on_message(args)` runs for each. False if it cannot."""
        self._on_message = on_message
        server = QLocalServer(self)
        server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        QLocalServer.removeServer(self.name)  # a socket file left by a crashed WZP (we hold the lock)
        if not server.listen(self.name):
            log.warning("second launches cannot reach this WZP: %s", server.errorString())
            return False
        server.newConnection.connect(self._accept)
        self._server = server
        log.info("listening for second launches on %s", self.name)
        return True

    def _accept(self) -> None:
        assert self._server is not None
        while (sock := self._server.nextPendingConnection()) is not None:
            self._buffers[sock] = bytearray()
            sock.readyRead.connect(lambda sock=sock: self._read(sock))
            sock.disconnected.connect(lambda sock=sock: self._drop(sock))

    def _read(self, sock: QLocalSocket) -> None:
        buffer = self._buffers.get(sock)
        if buffer is None:
            return
        buffer += bytes(sock.readAll().data())
        if b"\n" not in buffer and len(buffer) <= MAX_MESSAGE:
            return
        line = bytes(buffer.split(b"\n", 1)[0])
        self._drop(sock)
        args = parse_message(line)
        if args is None:
            log.warning("ignored a malformed message from a second launch (%d bytes)", len(line))
            return
        log.info("a second launch asked to show the window (%d argument(s))", len(args))
        if self._on_message is not None:
            self._on_message(args)

    def _drop(self, sock: QLocalSocket) -> None:
        if self._buffers.pop(sock, None) is not None:
            sock.abort()
            sock.deleteLater()

    # ------------------------------------------------------ the second launch

    def send(self, args: list[str]) -> bool:
        """Hand `args` to the running instance; True if it got them."""
        sock = QLocalSocket()
        sock.connectToServer(self.name)
        if not sock.waitForConnected(CONNECT_MS):
            log.info("the running WZP did not answer on %s: %s", self.name, sock.errorString())
            return False
        sock.write(json.dumps(args[:MAX_ARGS]).encode() + b"\n")
        ok = sock.waitForBytesWritten(CONNECT_MS)
        sock.disconnectFromServer()
        return ok

    def release(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        self._lock.unlock()
