"""Where things are. The default sovdns binary is ONE constant: SOVDNS_BIN_DEFAULT."""

from __future__ import annotations

import os
from pathlib import Path

PKG = Path(__file__).resolve().parent
HERE = PKG.parent                  # tests/integration
REPO = HERE.parent.parent
ZONES_DIR = HERE / "zones"
DEMO_DIR = REPO / "conf" / "demo"
PY = "/usr/bin/python3"            # Debian's: dnspython, pytest, requests, yaml
PROBE_SERVERS = PKG / "probe_servers.py"

# The binary under test unless SOVDNS_BIN says otherwise.
SOVDNS_BIN_DEFAULT = REPO / "build" / "daemon" / "sovdns"

BOUND_S = 10.0  # the bound of every wait unless a test gives another


def default_sovdns_bin() -> Path:
    return Path(os.environ.get("SOVDNS_BIN", SOVDNS_BIN_DEFAULT))


def build_tree() -> Path:
    """The build directory the binary under test comes from (build/, build-asan/...)."""
    return default_sovdns_bin().parent.parent


def sovctl_bin() -> Path:
    """SOVCTL_BIN, else sovctl of the same build tree as sovdns."""
    return Path(os.environ.get("SOVCTL_BIN", build_tree() / "deployer" / "sovctl"))


def sovprobe_run_bin() -> Path:
    """SOVPROBE_RUN, else the probe-engine driver of the same build tree as sovdns."""
    return Path(os.environ.get("SOVPROBE_RUN", build_tree() / "probe" / "sovprobe-run"))
