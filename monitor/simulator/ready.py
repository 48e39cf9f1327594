"""What `monitor simulate` hands to a monitor: env lines, written atomically to a ready file."""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import socket
import tempfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit

SECRET_ENV = "SIM_WECHAT_SECRET"


def env_lines(base_url: str, secret_value: str) -> list[str]:
    """The env lines that point a monitor at the simulator at `base_url`."""
    base = base_url.rstrip("/")
    return [
        f"MONITOR_WEIBO__BASE_URL={base}",
        f"MONITOR_WECHAT__API_BASE_URL={base}",
        f"MONITOR_WEIBO__VISITOR_URL={base}",
        f"{SECRET_ENV}={secret_value}",
        # The simulator's feeds live on its own address: allow that one network, not
        # every private address.
        f"MONITOR_NETWORK__ALLOWED_NETWORKS={json.dumps([own_network(base)])}",
    ]


def own_network(base_url: str) -> str:
    """The simulator's own address as a one-address network (127.0.0.1/32, ::1/128)."""
    host = urlsplit(base_url).hostname or "127.0.0.1"
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        addr = ipaddress.ip_address(socket.gethostbyname(host))
    return str(ipaddress.ip_network(addr))


def write_ready_file(path: str | Path, lines: Iterable[str]) -> None:
    """Write `lines` (one per line) so readers see the old file or the whole new one, never a part."""
    target = Path(path)
    text = "".join(f"{line}\n" for line in lines)
    # The temp file must be in the same directory: os.replace is atomic only within a filesystem.
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
