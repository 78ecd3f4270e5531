"""Loopback addresses and ports.

Prefer a port the process binds itself (port 0) and reports: ApiDaemon reads
the API's port from the daemon's log, Site reads its port from the stand-in's
"READY <port>" line. Where a port must be written into a configuration first
(the DNS listen address), pick_endpoint() picks one that looks free below the
ephemeral range and the caller retries on a bind failure (servers.Server.start,
daemon.ApiDaemon.start)."""

from __future__ import annotations

import random
import socket


def family(addr: str) -> int:
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def port_is_free(addr: str, port: int, types=(socket.SOCK_DGRAM, socket.SOCK_STREAM)) -> bool:
    """Both UDP and TCP can bind addr:port right now (racy, a hint only)."""
    for typ in types:
        s = socket.socket(family(addr), typ)
        try:
            s.bind((addr, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_endpoint(rng: random.Random | None = None, want_ipv6: bool = False,
                  addr: str | None = None) -> tuple[str, int]:
    """A random 127.0.0.x (or addr) and a high port that look free (on ::1 too if
    wanted). Ports stay below the kernel's ephemeral range (32768-60999): a
    server restarted on the same port must not find it taken as the source port
    of some client connection meanwhile."""
    rng = rng or random.Random()
    for _ in range(200):
        a = addr or f"127.0.0.{rng.randint(2, 254)}"
        port = rng.randint(20000, 32767)
        if port_is_free(a, port) and (not want_ipv6 or port_is_free("::1", port)):
            return a, port
    raise OSError("no free loopback port found in 200 tries")


def free_port(addr: str = "127.0.0.1") -> int:
    """A port free for UDP and TCP on addr, below the ephemeral range."""
    return pick_endpoint(addr=addr)[1]


def closed_port(bind: str = "127.0.0.1") -> int:
    """A port nothing listens on (bound by the kernel's choice, read back, closed):
    a probe target that refuses connections."""
    with socket.socket(family(bind), socket.SOCK_STREAM) as s:
        s.bind((bind, 0))
        return s.getsockname()[1]


def fmt_hostport(addr: str, port: int) -> str:
    return f"[{addr}]:{port}" if ":" in addr else f"{addr}:{port}"


def parse_hostport(text: str) -> tuple[str, int]:
    if text.startswith("["):
        host, _, port = text[1:].partition("]:")
    else:
        host, _, port = text.rpartition(":")
    return host, int(port)


def site_addrs(n: int) -> list:
    """n distinct random 127.0.0.x addresses (for stand-in sites)."""
    return [f"127.0.0.{x}" for x in random.sample(range(2, 254), n)]
