"""Local Redis: Debian's `redis-server` on loopback, no persistence, state under the cache dir.

The configuration (port, and a password when COLOG_REDIS_URL carries one) is written to a file
readable only by us, so the password never appears in a command line or in the log.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from colog.app.stack import process
from colog.app.stack.process import StackError

NAME = "redis"
START_TIMEOUT_S = 20.0


def address(settings: Any) -> tuple[str, int, str | None]:
    """(host, port, password) from COLOG_REDIS_URL."""
    parts = urlsplit(settings.redis_url)
    if parts.scheme not in ("redis", "rediss"):
        raise StackError(f"redis: COLOG_REDIS_URL must start with redis://, got {parts.scheme}://")
    password = unquote(parts.password) if parts.password else None
    return parts.hostname or "127.0.0.1", parts.port or 6379, password


def _server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise StackError(
            "redis: `redis-server` is not installed. Install it (Debian: `apt-get install "
            "redis-server`, or run `bash deploy/local/install.sh`)."
        )
    return found


def _write_config(state: Path, host: str, port: int, password: str | None) -> Path:
    conf = state / "redis.conf"
    lines = [
        f"bind {host}",
        f"port {port}",
        "protected-mode yes",
        f"dir {state}",
        # A cache and a broker for tests and the demo: nothing worth writing to disk.
        'save ""',
        "appendonly no",
        "daemonize no",  # our process helper detaches it and tracks its pid
        'logfile ""',  # stdout, i.e. the component log
    ]
    if password:
        lines.append(f"requirepass {password}")
    conf.touch(mode=0o600)
    conf.chmod(0o600)
    conf.write_text("\n".join(lines) + "\n")
    return conf


def _client(settings: Any, timeout: float = 1.0) -> Any:
    import redis as redis_py
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # One attempt per probe: redis-py's default retries with backoff would stretch every
    # readiness poll (and a wrong password) to seconds.
    return redis_py.Redis.from_url(
        settings.redis_url, socket_timeout=timeout, socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def answers(settings: Any, timeout: float = 1.0) -> bool:
    """True when a Redis at COLOG_REDIS_URL answers PING."""
    import redis as redis_py

    try:
        client = _client(settings, timeout)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except (redis_py.RedisError, OSError):
        return False


def start(settings: Any) -> None:
    """Start redis-server (idempotent) and wait until it answers PING."""
    host, port, password = address(settings)
    log = process.log_file(settings, NAME)
    pid = process.running_pid(settings, NAME)
    if pid is not None:
        process.wait_until(lambda: answers(settings), START_TIMEOUT_S, "redis", log, pid)
        return
    process.ensure_port_free(host, port, "redis", "COLOG_REDIS_URL")
    binary = _server_binary()
    state = process.state_dir(settings, NAME)
    conf = _write_config(state, host, port, password)
    pid = process.start_process(NAME, [binary, str(conf)], None, state, log)
    process.wait_until(lambda: answers(settings), START_TIMEOUT_S, "redis", log, pid, 0.1)


def stop(settings: Any) -> None:
    process.stop_process(NAME, settings, timeout=15.0)


def status(settings: Any) -> dict[str, Any]:
    _, port, _ = address(settings)
    return process.server_status(settings, NAME, port, answers(settings, timeout=0.5),
                                 "a Redis")


if __name__ == "__main__":
    from colog.core.settings import get_settings

    action = {"start": start, "stop": stop, "status": lambda s: print(status(s))}
    if len(sys.argv) != 2 or sys.argv[1] not in action:
        sys.exit("usage: python -m colog.app.stack.redis start|stop|status")
    try:
        action[sys.argv[1]](get_settings())
    except StackError as exc:
        sys.exit(f"error: {exc}")
