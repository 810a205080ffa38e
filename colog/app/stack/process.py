"""Shared helpers for the local stack's server processes (OpenSearch, Redis, Triton).

Every component keeps its state under ``settings.cache_dir / "stack" / <name>``: a pid file
(``pid``), a log (``<name>.log``) and whatever data the server writes. Servers are started
detached in their own session, so they outlive the `colog` command that started them, and are
stopped by signalling their whole process group, so no helper process is left behind.

Component modules expose ``start(settings) -> None``, ``stop(settings) -> None`` and
``status(settings) -> dict`` (the keys of :func:`status_record`). ``start`` is idempotent, raises
:class:`StackError` with a message that says what to do; ``stop`` leaves no process behind.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

PID_FILE = "pid"


class StackError(Exception):
    """A component cannot be started, stopped or reached; the message says what to do."""


# --- where state lives ----------------------------------------------------------------------


def state_dir(settings: Any, name: str) -> Path:
    """The component's own directory (pid file, log, data), created on demand."""
    path = Path(settings.cache_dir) / "stack" / name
    path.mkdir(parents=True, exist_ok=True)
    return path


def pid_file(settings: Any, name: str) -> Path:
    return state_dir(settings, name) / PID_FILE


def log_file(settings: Any, name: str) -> Path:
    return state_dir(settings, name) / f"{name}.log"


# --- ports ----------------------------------------------------------------------------------


def port_in_use(host: str, port: int) -> bool:
    """True when something listens on, or has bound, ``host:port``.

    A connect finds listeners; a bind finds sockets that are bound but not (yet) listening.
    SO_REUSEADDR keeps a port in TIME_WAIT from counting as taken.
    """
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        pass
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody holds right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def port_owner(port: int) -> str:
    """Best-effort 'pid N (command)' of the listener on ``port``, read from /proc; '' if unknown."""
    inodes = _listening_inodes(port)
    if not inodes:
        return ""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:[") and target[8:-1] in inodes:
                    cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    return f"pid {proc.name} ({cmd.strip()[:120]})"
        except OSError:
            continue
    return ""


def _listening_inodes(port: int) -> set[str]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if int(local.rsplit(":", 1)[1], 16) == port and state == "0A":  # 0A = LISTEN
                inodes.add(inode)
    return inodes


def ensure_port_free(host: str, port: int, component: str, setting: str) -> None:
    """Raise a StackError naming the holder of the port and how to move the component."""
    if not port_in_use(host, port):
        return
    owner = port_owner(port)
    raise StackError(
        f"{component}: port {host}:{port} is already in use by another process"
        f"{' — ' + owner if owner else ''}. Stop that process, or point {setting} at a free port."
    )


# --- processes ------------------------------------------------------------------------------


def _start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot); None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; the fields after its ')' are fixed.
    after = stat.rsplit(")", 1)[1].split()
    if after[0] == "Z":  # a zombie has finished; it only waits to be reaped
        return None
    return int(after[19])


def start_process(
    name: str,
    argv: Sequence[str],
    env: Mapping[str, str] | None,
    cwd: Path | str | None,
    log_path: Path,
    user: Any = None,
) -> int:
    """Start ``argv`` detached (own session and process group), stdout+stderr appended to
    ``log_path``; write the pid file next to the log. Returns the pid.

    ``env`` is merged over the current environment. ``user`` (a ``pwd.struct_passwd``) runs
    the process as that user, its group and no extra groups (needs root). Pass
    ``log_file(settings, name)`` as ``log_path`` so that :func:`stop_process` and
    :func:`running_pid` find the pid file.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **(env or {})}
    as_user = {} if user is None else {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    with open(log_path, "ab") as log, open(os.devnull, "rb") as devnull:
        log.write(f"\n--- colog stack: starting {name}: {' '.join(argv)}\n".encode())
        log.flush()
        try:
            proc = subprocess.Popen(
                list(argv),
                stdin=devnull,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=str(cwd) if cwd else None,
                env=full_env,
                start_new_session=True,  # survives the CLI; its pgid == its pid
                close_fds=True,
                **as_user,
            )
        except OSError as exc:
            raise StackError(f"{name}: cannot run {argv[0]}: {exc}") from exc
    record = {"pid": proc.pid, "start_time": _start_time(proc.pid), "argv": list(argv)}
    (log_path.parent / PID_FILE).write_text(json.dumps(record))
    # Popen would warn at interpreter exit about a child still running; the server is meant
    # to outlive us, so drop the handle (reaping is done by is_running/stop_process if needed).
    proc.returncode = 0
    return proc.pid


def read_pid(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process still runs (start time matches),
    else None. A stale pid file (reboot, crash, pid reuse) reads as None."""
    try:
        record = json.loads(path.read_text())
        pid = int(record["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not is_running(pid):
        return None
    recorded = record.get("start_time")
    if recorded is not None and _start_time(pid) != recorded:
        return None
    return pid


def running_pid(settings: Any, name: str) -> int | None:
    return read_pid(pid_file(settings, name))


def _reap(pid: int) -> None:
    """Collect ``pid`` if it is our own exited child (e.g. started by this test session)."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError:
        pass


def is_running(pid: int) -> bool:
    """True while ``pid`` exists and has not exited (zombies count as exited)."""
    _reap(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _start_time(pid) is not None


def group_alive(pgid: int) -> bool:
    """True while any non-zombie process of process group ``pgid`` exists."""
    _reap(pgid)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
        except OSError:
            continue
        after = stat.rsplit(")", 1)[1].split()
        if after[0] != "Z" and int(after[2]) == pgid:
            return True
    return False


def stop_process(name: str, settings: Any, timeout: float = 30.0) -> bool:
    """SIGTERM the component's process group, SIGKILL what is left after ``timeout`` s,
    remove the pid file. Returns True when something was running."""
    path = pid_file(settings, name)
    pid = read_pid(path)
    if pid is None:
        path.unlink(missing_ok=True)
        return False
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while group_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if group_alive(pid):
        _signal_group(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while group_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    if group_alive(pid):
        raise StackError(f"{name}: process group {pid} survived SIGKILL; check `ps -g {pid}`")
    path.unlink(missing_ok=True)
    return True


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


# --- logs and readiness ---------------------------------------------------------------------


def tail(log_path: Path, n: int = 40) -> str:
    """The last ``n`` lines of a log ('' when there is none)."""
    try:
        with open(log_path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            data = handle.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(data.splitlines()[-n:])


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    log_path: Path | None = None,
    pid: int | None = None,
    interval: float = 0.5,
) -> float:
    """Poll ``predicate`` until it is true; return the seconds waited.

    Raises StackError (with the log tail) on timeout, or at once when ``pid`` has exited —
    a server that died will not become ready, so waiting out the timeout only hides why.
    """
    start = time.monotonic()
    while True:
        try:
            if predicate():
                return time.monotonic() - start
        except Exception:  # noqa: BLE001 — not ready yet (connection refused, 503, ...)
            pass
        if pid is not None and not is_running(pid):
            raise StackError(_with_tail(f"{what}: the process exited before it was ready", log_path))
        if time.monotonic() - start > timeout:
            raise StackError(_with_tail(f"{what}: not ready after {timeout:.0f}s", log_path))
        time.sleep(interval)


def _with_tail(message: str, log_path: Path | None) -> str:
    if log_path is None:
        return message
    lines = tail(log_path, 30)
    return f"{message}. Log {log_path}:\n{lines}" if lines else f"{message}. Log: {log_path} (empty)"


def status_record(
    component: str,
    pid: int | None,
    port: int | None,
    healthy: bool,
    detail: str = "",
) -> dict[str, Any]:
    """The dict every component's ``status(settings)`` returns."""
    return {
        "component": component,
        "running": pid is not None,
        "pid": pid,
        "port": port,
        "healthy": healthy,
        "detail": detail,
    }


def server_status(settings: Any, name: str, port: int, healthy: bool, what: str) -> dict[str, Any]:
    """The status record of a server component; says so when a foreign server holds the URL."""
    pid = running_pid(settings, name)
    detail = str(log_file(settings, name))
    if pid is None and healthy:
        detail = f"{what} not started by colog answers at this URL"
    return status_record(name, pid, port, healthy, detail)
