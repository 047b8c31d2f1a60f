"""The system-call helper of the linux target: a small process inside the namespace.

:class:`SyscallHelper` (the parent's side) starts this file as a program inside the
network namespace (``nsenter --net=/run/netns/NS python -I sysproc.py``), so every socket it
makes is the namespace's.  It speaks JSON lines over the child's stdin and stdout:

request  ``{"id": 7, "op": "accept", "args": [4]}``
replies  ``{"id": 7, "event": "blocked", "t": NS}`` -- the call sleeps in the kernel
         (sent at most once, only while the call has not returned);
         ``{"id": 7, "event": "done", "ret": 5, "errno": null, "t0": NS, "t1": NS}``
         -- the call returned: ``ret`` as the C call returns it (``-1`` with
         ``errno`` an errno name such as ``"ECONNREFUSED"``), ``data`` (hex) what a
         read returned, ``value`` what a getsockopt returned; ``t0``/``t1`` are
         CLOCK_MONOTONIC nanoseconds just before and after the call (the clock is
         the same in every network namespace).

Every call runs on a worker thread (a few are made at start), so a call that
blocks (``accept``, a blocking ``connect`` or ``read``) does not stop the helper:
later calls are taken while it waits, and its ``done`` comes when it returns.
Whether a call is *blocked* is read the way packetdrill reads it: the thread's state
in ``/proc/self/task/TID/stat`` is ``S`` (sleeping), and not merely on a futex (the
interpreter's own lock).  The helper opens no file once it has started, so the
descriptors the calls return are numbered as in a fresh process (3, 4, ...).
The operations are the C calls, one for one: ``read`` and ``write`` are ``read(2)``
and ``write(2)`` on the descriptor, ``recv``/``send`` the socket calls with flags.

The child half (:func:`main`) imports nothing but the standard library, so that it
starts fast and runs as a plain file without the package installed.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import queue
import socket
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, Final

__all__ = ["HelperError", "Reply", "SyscallHelper", "main"]

Reply = dict[str, Any]

#: How long the helper watches a new call before deciding it is blocked or done.
_WATCH_POLL_S: Final = 0.0002
_LINGER: Final = struct.Struct("ii")
#: Options whose value is a ``struct linger`` rather than an int.
_LINGER_OPTS: Final = {(socket.SOL_SOCKET, socket.SO_LINGER)}


# -- the child -----------------------------------------------------------------------------
class _Calls:
    """The operations, on the child's descriptors (kept open as socket objects)."""

    def __init__(self) -> None:
        self.socks: dict[int, socket.socket] = {}

    def _sock(self, fd: int) -> socket.socket:
        sock = self.socks.get(fd)
        if sock is None:
            raise OSError(errno.EBADF, os.strerror(errno.EBADF))
        return sock

    def socket(self, family: int, type_: int, proto: int) -> Reply:
        sock = socket.socket(family, type_, proto)
        self.socks[sock.fileno()] = sock
        return {"ret": sock.fileno()}

    def bind(self, fd: int, host: str, port: int) -> Reply:
        self._sock(fd).bind((host, port))
        return {"ret": 0}

    def listen(self, fd: int, backlog: int) -> Reply:
        self._sock(fd).listen(backlog)
        return {"ret": 0}

    def accept(self, fd: int) -> Reply:
        conn, addr = self._sock(fd).accept()
        self.socks[conn.fileno()] = conn
        return {"ret": conn.fileno(), "addr": list(addr[:2])}

    def connect(self, fd: int, host: str, port: int) -> Reply:
        self._sock(fd).connect((host, port))
        return {"ret": 0}

    def read(self, fd: int, size: int) -> Reply:
        self._sock(fd)
        data = os.read(fd, size)
        return {"ret": len(data), "data": data.hex()}

    def recv(self, fd: int, size: int, flags: int) -> Reply:
        data = self._sock(fd).recv(size, flags)
        return {"ret": len(data), "data": data.hex()}

    def write(self, fd: int, data: str) -> Reply:
        self._sock(fd)
        return {"ret": os.write(fd, bytes.fromhex(data))}

    def send(self, fd: int, data: str, flags: int) -> Reply:
        return {"ret": self._sock(fd).send(bytes.fromhex(data), flags)}

    def shutdown(self, fd: int, how: int) -> Reply:
        self._sock(fd).shutdown(how)
        return {"ret": 0}

    def close(self, fd: int) -> Reply:
        self._sock(fd).close()
        del self.socks[fd]
        return {"ret": 0}

    def fcntl(self, fd: int, cmd: int, arg: int) -> Reply:
        self._sock(fd)
        return {"ret": fcntl.fcntl(fd, cmd, arg)}

    def setsockopt(self, fd: int, level: int, name: int, value: int | list[int]) -> Reply:
        sock = self._sock(fd)
        if isinstance(value, list):
            sock.setsockopt(level, name, _LINGER.pack(*value))
        else:
            sock.setsockopt(level, name, value)
        return {"ret": 0}

    def getsockopt(self, fd: int, level: int, name: int) -> Reply:
        sock = self._sock(fd)
        if (level, name) in _LINGER_OPTS:
            return {"ret": 0, "value": list(_LINGER.unpack(sock.getsockopt(level, name, _LINGER.size)))}
        return {"ret": 0, "value": sock.getsockopt(level, name)}


#: Worker threads made at start: the runner has at most one blocking call under way
#: and one more call, so a few are plenty.
WORKERS: Final = 6
#: The lowest descriptor number the helper keeps for itself, far above the sockets'.
_OWN_FD_BASE: Final = 900


def _high_fd(path: str) -> int:
    """``path`` opened read-only on a descriptor numbered from :data:`_OWN_FD_BASE` up, so
    that the helper's own files never take a number the script's sockets expect."""
    low = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return fcntl.fcntl(low, fcntl.F_DUPFD_CLOEXEC, _OWN_FD_BASE)
    finally:
        os.close(low)


_Job = tuple[Reply, Callable[..., Reply], dict[str, bool]]


class _Worker:
    """A thread that makes calls, one at a time, and whose state the main thread reads
    from its ``/proc`` files (opened once, at start, on high descriptors: opening them
    per call would race with the calls for the lowest free descriptor number)."""

    def __init__(self, child: _Child) -> None:
        self.child = child
        self.jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self.busy = False
        started = threading.Event()
        self.tid = 0

        def loop() -> None:
            self.tid = threading.get_native_id()
            started.set()
            while True:
                self.work(*self.jobs.get())

        threading.Thread(target=loop, daemon=True).start()
        started.wait()
        self.stat_fd = _high_fd(f"/proc/self/task/{self.tid}/stat")
        self.wchan_fd = _high_fd(f"/proc/self/task/{self.tid}/wchan")

    def work(self, req: Reply, fn: Callable[..., Reply], state: dict[str, bool]) -> None:
        state["entered"] = True
        t0 = time.monotonic_ns()
        try:
            reply = fn(*req["args"])
            reply["errno"] = None
        except OSError as exc:
            code = exc.errno if exc.errno is not None else errno.EIO
            reply = {"ret": -1, "errno": errno.errorcode.get(code, str(code))}
        t1 = time.monotonic_ns()
        reply.update(id=req["id"], event="done", t0=t0, t1=t1)
        state["done"] = True
        self.busy = False
        self.child.send(reply)

    def blocked(self) -> bool:
        """Is the thread asleep in the kernel (state S), and not on a futex (the
        interpreter's own lock)?  packetdrill's test, /proc/PID/task/TID/stat."""
        try:
            stat = os.pread(self.stat_fd, 4096, 0)
            # "tid (comm) S ...": the state follows the last ')'.
            at = stat.rindex(b")") + 2
            if stat[at:at + 1] != b"S":
                return False
            return b"futex" not in os.pread(self.wchan_fd, 4096, 0)
        except (OSError, ValueError):
            return False


class _Child:
    def __init__(self, out: IO[str]) -> None:
        self.calls = _Calls()
        self.out = out
        self.lock = threading.Lock()
        self.workers = [_Worker(self) for _ in range(WORKERS)]

    def send(self, reply: Reply) -> None:
        with self.lock:
            self.out.write(json.dumps(reply) + "\n")
            self.out.flush()

    def run(self, req: Reply) -> None:
        ident = req["id"]
        op = str(req["op"])
        fn: Callable[..., Reply] | None = None if op.startswith("_") else getattr(self.calls, op, None)
        worker = next((w for w in self.workers if not w.busy), None)
        if fn is None or worker is None:
            self.send({"id": ident, "event": "done", "ret": -1, "errno": "ENOSYS" if fn is None else "EBUSY",
                       "t0": 0, "t1": 0})
            return
        worker.busy = True
        state: dict[str, bool] = {}
        worker.jobs.put((req, fn, state))
        # Watch it until it returns or sleeps in the kernel.
        while not state.get("done"):
            if state.get("entered") and worker.blocked() and not state.get("done"):
                self.send({"id": ident, "event": "blocked", "t": time.monotonic_ns()})
                return
            time.sleep(_WATCH_POLL_S)


def main() -> None:
    """The child: read requests until stdin closes, then exit (sockets close with us)."""
    child = _Child(sys.stdout)
    for line in sys.stdin:
        if line.strip():
            child.run(json.loads(line))
    sys.stdout.flush()
    os._exit(0)  # do not wait for calls still blocked


# -- the parent ----------------------------------------------------------------------------
class HelperError(Exception):
    """The helper could not be started, or died (message is one line)."""


class SyscallHelper:
    """The parent's handle on a helper process inside namespace ``netns``."""

    def __init__(self, argv: Sequence[str]) -> None:
        self.proc = subprocess.Popen(list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, bufsize=1)
        self._next = 0
        self._replies: dict[int, list[Reply]] = {}
        self._cond = threading.Condition()
        self._eof = False
        self._reader = threading.Thread(target=self._read, name="sysproc-reader", daemon=True)
        self._reader.start()

    @classmethod
    def start(cls, netns: str) -> SyscallHelper:
        """The helper inside the named namespace (``/run/netns/NAME``), entered with
        nsenter: the network namespace only, which is all a socket needs."""
        return cls(["nsenter", f"--net=/run/netns/{netns}", sys.executable, "-I", __file__])

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                reply = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                self._replies.setdefault(int(reply["id"]), []).append(reply)
                self._cond.notify_all()
        with self._cond:
            self._eof = True
            self._cond.notify_all()

    def call(self, op: str, *args: Any) -> int:
        """Start ``op(*args)`` in the helper; the call's id, for :meth:`wait`."""
        if self.proc.stdin is None or self.proc.poll() is not None:
            raise HelperError(f"the system-call helper has exited ({self._stderr()})")
        self._next += 1
        try:
            self.proc.stdin.write(json.dumps({"id": self._next, "op": op, "args": list(args)}) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            raise HelperError(f"the system-call helper has exited ({self._stderr()})") from None
        return self._next

    def wait(self, ident: int, timeout: float, blocked_ok: bool = False) -> Reply | None:
        """The call's ``done`` reply (or its ``blocked`` one, with ``blocked_ok``),
        or None when neither came within ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for reply in self._replies.get(ident, []):
                    if reply["event"] == "done" or blocked_ok:
                        return reply
                left = deadline - time.monotonic()
                if self._eof:
                    raise HelperError(f"the system-call helper has exited ({self._stderr()})")
                if left <= 0:
                    return None
                self._cond.wait(left)

    def done(self, ident: int) -> Reply | None:
        """The call's ``done`` reply if it has returned, else None (no waiting)."""
        with self._cond:
            for reply in self._replies.get(ident, []):
                if reply["event"] == "done":
                    return reply
        return None

    def _stderr(self) -> str:
        if self.proc.poll() is None or self.proc.stderr is None:
            return "still running"
        text = self.proc.stderr.read().strip().splitlines()
        return text[-1] if text else f"exit status {self.proc.returncode}"

    def close(self) -> None:
        """End the helper: stdin closed (it exits), killed by its pid if it does not."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reader.join(timeout=5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        if self.proc.stderr is not None:
            self.proc.stderr.close()


if __name__ == "__main__":
    main()
