"""Real Knot, NSD and BIND as zone-transfer peers (AXFR/IXFR/NOTIFY with TSIG).

  - TsigKey: a TSIG key (name, algorithm, base64 secret) for the configs,
    kdig and dnspython
  - KnotSecondary, NsdSecondary, BindSecondary: a secondary for one zone,
    fed by a list of primaries (addr, port), with an optional key; it
    accepts NOTIFY from the primaries' addresses and allows AXFR from
    loopback (with the key), so that axfr() reads back what it serves
  - KnotPrimary, BindPrimary: a primary for one zone given as zone-file
    text; transfer allowed to given addresses (with the key), NOTIFY sent
    to given (addr, port) targets; update_zone(new_text) rewrites the file
    and has the server reload it
  - zone_rrsets, zone_text_records: compare zones as sets of
    (name, ttl, type, rdata-text), ignoring order and the letter case of names

The conventions of servers.py hold (these classes are servers.Server): a
random 127.0.0.x and high port, start retried on an early non-zero exit,
readiness with a bound, every server in the foreground (knotd without -d,
nsd -d, named -g) and stopped by the PID we hold. Each peer sends from its
own address (Knot via, NSD outgoing-interface, BIND transfer-source and
notify-source) so that address-based ACLs hold on 127.0.0.0/8.

BIND binds only the addresses of interfaces, and lo has 127.0.0.1 alone: BIND
peers always listen (and send) on 127.0.0.1, on a random port; the others use
127.0.0.2-254, so an ACL on a BIND peer's address names only it.

Timers: the minimum refresh is 2 s (Knot's lowest), the minimum retry 1 s and
the maximum retry 2 s, so a
refused or failed transfer is retried quickly; the maximum refresh is left
alone, so with the suite's zones (refresh 7200) a new serial reaches a
secondary by NOTIFY, not by polling. Every wait is a bounded loop
(XFR_BOUND_S): no verdict depends on speed.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.tsig
import dns.zone

from .paths import BOUND_S
from .procs import tail
from .servers import READY_TIMEOUT_S, Server, ServerError

XFR_BOUND_S = 20.0  # the bound of every wait for a transfer
MIN_REFRESH_S = 2   # minimum refresh interval of the secondaries (Knot's lowest)
MIN_RETRY_S = 1     # minimum retry interval of the secondaries
MAX_RETRY_S = 2     # maximum retry interval of the secondaries
LOOPBACK_NET = "127.0.0.0/8"

# The digest size of each algorithm: the length of a generated secret.
_SECRET_BYTES = {"hmac-md5": 16, "hmac-sha1": 20, "hmac-sha224": 28, "hmac-sha256": 32,
                 "hmac-sha384": 48, "hmac-sha512": 64}

Record = tuple[str, int, str, str]  # (owner name, ttl, type, rdata text)


@dataclass(frozen=True)
class TsigKey:
    """A TSIG key (RFC 8945): name, algorithm (e.g. "hmac-sha256"), base64 secret."""

    name: str
    secret: str
    algorithm: str = "hmac-sha256"

    @classmethod
    def generate(cls, name: str, algorithm: str = "hmac-sha256") -> "TsigKey":
        """A new key with a random secret (os.urandom) of the algorithm's digest size."""
        raw = os.urandom(_SECRET_BYTES.get(algorithm, 32))
        return cls(name, base64.b64encode(raw).decode(), algorithm)

    def kdig_arg(self) -> str:
        """The value of kdig's -y: "algorithm:name:secret"."""
        return f"{self.algorithm}:{self.name}:{self.secret}"

    def dnspython_keyring(self) -> dict:
        """{name: dns.tsig.Key} for dns.query / dns.message (keyname=self.name)."""
        n = dns.name.from_text(self.name)
        return {n: dns.tsig.Key(n, self.secret, self.algorithm)}


# -- zones as record sets ----------------------------------------------------

def _canonical_rdata(rdtype: str, text: str, origin: dns.name.Name | None = None) -> str:
    """rdata text with the names in it lower-cased (RFC 4034 6.2 canonical form)."""
    rd = dns.rdata.from_text(dns.rdataclass.IN, rdtype, text, origin=origin, relativize=False)
    wire = rd.to_digestable(origin)
    return dns.rdata.from_wire(dns.rdataclass.IN, rd.rdtype, wire, 0, len(wire)).to_text()


def zone_rrsets(records) -> dict[tuple[str, str], frozenset[tuple[int, str]]]:
    """{(owner lower-cased, type): {(ttl, canonical rdata text)}} of (name, ttl, type,
    rdata) records: equal for two zones that differ only in order and letter case."""
    out: dict[tuple[str, str], set] = {}
    for name, ttl, rdtype, rdata in records:
        owner = dns.name.from_text(name).to_text().lower()
        out.setdefault((owner, rdtype), set()).add((int(ttl), _canonical_rdata(rdtype, rdata)))
    return {k: frozenset(v) for k, v in out.items()}


def zone_text_records(text: str, origin: str) -> set[Record]:
    """The records of zone-file text, as axfr() gives them (absolute names)."""
    z = dns.zone.from_text(text, origin, relativize=False, check_origin=True)
    return {(name.to_text(), rd_ttl, dns.rdatatype.to_text(rd.rdtype), rd.to_text())
            for name, rd_ttl, rd in z.iterate_rdatas()}


def text_serial(text: str, origin: str) -> int:
    """The SOA serial of zone-file text."""
    z = dns.zone.from_text(text, origin, relativize=False, check_origin=True)
    return z.find_rdataset(origin, dns.rdatatype.SOA)[0].serial


def responds(addr: str, port: int, origin: str, timeout: float = 0.3) -> bool:
    """True if addr:port sends any DNS reply to a SOA query over UDP and TCP (a
    secondary without its zone yet answers SERVFAIL or REFUSED: it is up)."""
    q = dns.message.make_query(origin, dns.rdatatype.SOA)
    try:
        for send in (dns.query.udp, dns.query.tcp):
            send(q, addr, port=port, timeout=timeout)
        return True
    except (OSError, EOFError, dns.exception.DNSException):
        return False


def _which(prog: str) -> str:
    return shutil.which(prog) or f"/usr/sbin/{prog}"


def _run(cmd: list, what: str) -> str:
    """Runs a short client command (knotc) with a bound; its output, or ServerError."""
    try:
        r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                           timeout=BOUND_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ServerError(f"{what}: no exit within {BOUND_S} s: {cmd}") from None
    if r.returncode != 0:
        raise ServerError(f"{what} failed (status {r.returncode}): {cmd}\n{r.stdout}{r.stderr}")
    return r.stdout


# -- the common part ---------------------------------------------------------

class Peer(Server):
    """A transfer peer for one zone. Subclasses write the config (command())."""

    role = "?"
    only_addr: str | None = None  # the one address this server can listen on, if so

    def __init__(self, origin: str, *, key: TsigKey | None = None, workdir: Path | None = None,
                 seed: int | None = None, endpoint: tuple[str, int] | None = None):
        self.origin = dns.name.from_text(origin).to_text()
        self.key = key
        if workdir is None:
            workdir = Path(tempfile.mkdtemp(prefix=f"itest-{self.kind}-{self.role}-"))
        zone_path = Path(workdir) / f"{self.origin}zone"
        super().__init__(workdir, [(self.origin, zone_path)], threads=1, seed=seed,
                         endpoint=endpoint)
        self.zone_path = zone_path
        self.fixed_addr = self.only_addr

    def __enter__(self) -> "Peer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def serial(self) -> int | None:
        """The SOA serial it serves now (authoritative NOERROR answer), else None."""
        q = dns.message.make_query(self.origin, dns.rdatatype.SOA)
        try:
            r = dns.query.udp(q, self.addr, port=self.port, timeout=0.5)
        except (OSError, EOFError, dns.exception.DNSException):
            return None
        if r.rcode() != dns.rcode.NOERROR or not r.flags & dns.flags.AA:
            return None
        for rrset in r.answer:
            if rrset.rdtype == dns.rdatatype.SOA and rrset.name == dns.name.from_text(self.origin):
                return rrset[0].serial
        return None

    def wait_serial(self, serial: int, timeout: float = XFR_BOUND_S) -> float:
        """Waits (bounded) until it serves `serial`; the seconds waited. AssertionError
        with its log when the bound passes or the process ends."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        now = None
        while True:
            now = self.serial()
            if now == serial:
                return time.monotonic() - t0
            if not self.alive():
                raise AssertionError(f"{self.kind} {self.role} exited while waiting for serial "
                                     f"{serial}\n--- {self.log_path} ---\n{tail(self.log_text())}")
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.kind} {self.role} on {self.addr}:{self.port} serves "
                                     f"serial {now}, not {serial}, after {timeout} s\n"
                                     f"--- {self.log_path} ---\n{tail(self.log_text())}")
            time.sleep(0.05)

    def axfr(self, key: TsigKey | None = None, timeout: float = BOUND_S) -> set[Record]:
        """The zone it serves, by AXFR from it (signed with `key`, default its own):
        {(name, ttl, type, rdata text)}, names absolute."""
        key = key or self.key
        kw = {}
        if key:
            kw = {"keyring": key.dnspython_keyring(), "keyname": key.name,
                  "keyalgorithm": key.algorithm}
        out: set[Record] = set()
        for msg in dns.query.xfr(self.addr, self.origin, port=self.port, relativize=False,
                                 timeout=timeout, lifetime=timeout, **kw):
            for rrset in msg.answer:
                for rd in rrset:
                    out.add((rrset.name.to_text(), rrset.ttl,
                             dns.rdatatype.to_text(rrset.rdtype), rd.to_text()))
        return out


class Secondary(Peer):
    """A secondary: transfers the zone from `primaries` [(addr, port)]."""

    role = "secondary"
    # A line of its log that says a transfer (or the SOA query before it) failed.
    xfr_failure_re = "(?!)"

    def __init__(self, origin: str, primaries, key: TsigKey | None = None, **kw):
        super().__init__(origin, key=key, **kw)
        self.primaries = [(a, int(p)) for a, p in primaries]
        if not self.primaries:
            raise ServerError("a secondary needs at least one primary")

    @property
    def primary_addrs(self) -> list[str]:
        """The primaries' addresses (NOTIFY is accepted from these)."""
        return sorted({a for a, _ in self.primaries})

    def xfr_failures(self) -> int:
        """How many failed transfer attempts its log reports so far."""
        return len(re.findall(self.xfr_failure_re, self.log_text(), re.MULTILINE))

    def _wait_ready(self) -> str:
        """Up = answers at all over UDP and TCP (it may not have the zone yet)."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "exited"
            if responds(self.addr, self.port, self.origin):
                return "ready"
            time.sleep(0.05)
        return "timeout"


class Primary(Peer):
    """A primary serving zone-file text; transfer allowed to `allow` (addresses or
    prefixes), NOTIFY sent to `notify` [(addr, port)]."""

    role = "primary"

    def __init__(self, origin: str, zone_text: str, key: TsigKey | None = None, *,
                 allow=(), notify=(), **kw):
        super().__init__(origin, key=key, **kw)
        self.allow = list(allow)
        self.notify_targets = [(a, int(p)) for a, p in notify]
        self.zone_path.write_text(zone_text)

    def set_secondaries(self, targets) -> None:
        """Allows transfer from, and sends NOTIFY to, these (addr, port) from now on
        (for secondaries started after the primary: rewrites the config, reloads)."""
        for a, p in targets:
            if a not in self.allow:
                self.allow.append(a)
            if (a, int(p)) not in self.notify_targets:
                self.notify_targets.append((a, int(p)))
        self.command()  # rewrites the config file
        self._reconfigure()

    def update_zone(self, new_text: str, timeout: float = XFR_BOUND_S) -> int:
        """Replaces the zone file, has the server reload it and waits (bounded) until
        it serves the new serial, which is returned. The server sends NOTIFY."""
        serial = text_serial(new_text, self.origin)
        tmp = self.zone_path.with_suffix(".new")
        tmp.write_text(new_text)
        os.replace(tmp, self.zone_path)
        self._reload_zone()
        self.wait_serial(serial, timeout)
        return serial

    # -- to implement -------------------------------------------------------
    def _reconfigure(self) -> None:
        raise NotImplementedError

    def _reload_zone(self) -> None:
        raise NotImplementedError


# -- Knot --------------------------------------------------------------------

def _knot_key(key: TsigKey | None) -> str:
    if not key:
        return ""
    return f"key:\n  - id: {key.name}\n    algorithm: {key.algorithm}\n    secret: {key.secret}\n\n"


def _knot_keyline(key: TsigKey | None) -> str:
    return f"    key: {key.name}\n" if key else ""


class _KnotBase:
    """knot.conf parts and knotc for KnotSecondary and KnotPrimary."""

    kind = "knot"

    def _knot_conf(self, remotes: str, acls: str, zone_extra: str) -> Path:
        run = self.workdir / "run"
        db = self.workdir / "db"
        run.mkdir(exist_ok=True)
        db.mkdir(exist_ok=True)
        conf = f"""server:
    rundir: {run}
    listen: {self.addr}@{self.port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

database:
    storage: {db}

control:
    listen: {run}/knot.sock

log:
  - target: stderr
    any: info

{_knot_key(self.key)}{remotes}{acls}template:
  - id: default
    storage: {self.workdir}
    semantic-checks: off
    journal-content: changes
    dnssec-signing: off

zone:
  - domain: {self.origin}
    file: {self.zone_path}
{zone_extra}"""
        path = self.workdir / "knot.conf"
        path.write_text(conf)
        return path

    def knotc(self, *args: str, blocking: bool = True) -> str:
        """Runs knotc against this knotd's control socket (-b: waits for the result)."""
        opts = ["-b"] if blocking else []
        return _run([_which("knotc"), "-s", self.workdir / "run" / "knot.sock", *opts, *args],
                    "knotc")


class KnotSecondary(_KnotBase, Secondary):
    """knotd as a secondary (IXFR by default once it has the zone, AXFR fallback)."""

    xfr_failure_re = r"refresh, remote .*, failed"

    def command(self) -> list:
        remotes = "remote:\n" + "".join(
            f"  - id: primary{i}\n    address: {a}@{p}\n{_knot_keyline(self.key)}"
            f"    via: {self.addr}\n" for i, (a, p) in enumerate(self.primaries)) + "\n"
        addrs = ", ".join(self.primary_addrs)
        acls = (f"acl:\n  - id: notify_from_primaries\n    address: [{addrs}]\n"
                f"{_knot_keyline(self.key)}    action: notify\n"
                f"  - id: transfer_to_loopback\n    address: {LOOPBACK_NET}\n"
                f"{_knot_keyline(self.key)}    action: transfer\n\n")
        masters = ", ".join(f"primary{i}" for i in range(len(self.primaries)))
        extra = (f"    master: [{masters}]\n"
                 "    acl: [notify_from_primaries, transfer_to_loopback]\n"
                 "    zonefile-sync: 0\n"
                 f"    refresh-min-interval: {MIN_REFRESH_S}\n"
                 f"    retry-min-interval: {MIN_RETRY_S}\n"
                 f"    retry-max-interval: {MAX_RETRY_S}\n")
        return [_which("knotd"), "-c", self._knot_conf(remotes, acls, extra)]


class KnotPrimary(_KnotBase, Primary):
    """knotd as a primary: zonefile-load difference, so a reload with a new serial
    keeps the change in the journal and IXFR can be served."""

    def command(self) -> list:
        remotes = ""
        if self.notify_targets:
            remotes = "remote:\n" + "".join(
                f"  - id: notify{i}\n    address: {a}@{p}\n{_knot_keyline(self.key)}"
                f"    via: {self.addr}\n" for i, (a, p) in enumerate(self.notify_targets)) + "\n"
        acls, acl_ref = "", ""
        if self.allow:
            acls = (f"acl:\n  - id: transfer_to_secondaries\n"
                    f"    address: [{', '.join(self.allow)}]\n"
                    f"{_knot_keyline(self.key)}    action: transfer\n\n")
            acl_ref = "    acl: [transfer_to_secondaries]\n"
        notify = ""
        if self.notify_targets:
            ids = ", ".join(f"notify{i}" for i in range(len(self.notify_targets)))
            notify = f"    notify: [{ids}]\n"
        extra = (f"{notify}{acl_ref}"
                 "    zonefile-sync: -1\n"
                 "    zonefile-load: difference\n")
        return [_which("knotd"), "-c", self._knot_conf(remotes, acls, extra)]

    def _reconfigure(self) -> None:
        self.knotc("reload")
        # Not blocking: a secondary that rejects the NOTIFY is no error here.
        self.knotc("zone-notify", self.origin, blocking=False)

    def _reload_zone(self) -> None:
        self.knotc("zone-reload", self.origin)


# -- NSD ---------------------------------------------------------------------

def _nsd_keyname(key: TsigKey | None) -> str:
    return key.name if key else "NOKEY"


class NsdSecondary(Secondary):
    """nsd as a secondary (request-xfr: IXFR first, AXFR fallback)."""

    kind = "nsd"
    xfr_failure_re = r"xfrd: zone .* bad transfer"

    def command(self) -> list:
        k = _nsd_keyname(self.key)
        key = ""
        if self.key:
            key = (f'key:\n  name: "{self.key.name}"\n  algorithm: {self.key.algorithm}\n'
                   f'  secret: "{self.key.secret}"\n\n')
        request = "".join(f"  request-xfr: {a}@{p} {k}\n" for a, p in self.primaries)
        notify = "".join(f"  allow-notify: {a} {k}\n" for a in self.primary_addrs)
        w = self.workdir
        conf = f"""server:
  ip-address: {self.addr}@{self.port}
  port: {self.port}
  do-ip4: yes
  do-ip6: no
  username: ""
  chroot: ""
  zonesdir: "{w}"
  database: ""
  zonelistfile: "{w}/zone.list"
  xfrdfile: "{w}/xfrd.state"
  xfrdir: "{w}"
  pidfile: "{w}/nsd.pid"
  server-count: 1
  verbosity: 2
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0

remote-control:
  control-enable: no

{key}zone:
  name: "{self.origin}"
  zonefile: "{self.zone_path}"
{request}{notify}  provide-xfr: {LOOPBACK_NET} {k}
  outgoing-interface: {self.addr}
  min-refresh-time: {MIN_REFRESH_S}
  min-retry-time: {MIN_RETRY_S}
  max-retry-time: {MAX_RETRY_S}
"""
        path = w / "nsd.conf"
        path.write_text(conf)
        return [_which("nsd"), "-c", path, "-d"]


# -- BIND --------------------------------------------------------------------

def _bind_match(addrs, key: TsigKey | None) -> str:
    """An address match list: from one of addrs AND signed with key (if any)."""
    inner = " ".join(f"!{a};" for a in addrs)
    if key:
        return f'!{{ {inner} any; }}; key "{key.name}";'
    return " ".join(f"{a};" for a in addrs)


class _BindBase:
    """named.conf parts for BindSecondary and BindPrimary. named -g: in the
    foreground, every log line on stderr; every path in the work directory."""

    kind = "bind"
    only_addr = "127.0.0.1"  # named listens on interface addresses only

    def _named_conf(self, options: str, zone: str) -> Path:
        w = self.workdir
        key = ""
        if self.key:
            key = (f'key "{self.key.name}" {{\n    algorithm {self.key.algorithm};\n'
                   f'    secret "{self.key.secret}";\n}};\n\n')
        conf = f"""options {{
    directory "{w}";
    pid-file "{w}/named.pid";
    session-keyfile "{w}/session.key";
    key-directory "{w}";
    managed-keys-directory "{w}";
    dump-file "{w}/named_dump.db";
    statistics-file "{w}/named.stats";
    listen-on port {self.port} {{ {self.addr}; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    transfer-source {self.addr};
    notify-source {self.addr};
    min-refresh-time {MIN_REFRESH_S};
    min-retry-time {MIN_RETRY_S};
    max-retry-time {MAX_RETRY_S};
{options}}};

controls {{ }};

{key}zone "{self.origin}" {{
{zone}}};
"""
        path = w / "named.conf"
        path.write_text(conf)
        return path

    def _named(self, conf: Path) -> list:
        return [_which("named"), "-g", "-c", conf, "-n", "1"]


class BindSecondary(_BindBase, Secondary):
    """named as a secondary (request-ixfr yes by default, AXFR fallback)."""

    xfr_failure_re = r"refresh: failure trying primary"

    def command(self) -> list:
        keyref = f' key "{self.key.name}"' if self.key else ""
        primaries = " ".join(f"{a} port {p}{keyref};" for a, p in self.primaries)
        zone = (f"    type secondary;\n"
                f'    file "{self.zone_path}";\n'
                f"    masterfile-format text;\n"
                f"    primaries {{ {primaries} }};\n"
                f"    allow-notify {{ {_bind_match(self.primary_addrs, self.key)} }};\n"
                f"    allow-transfer {{ {_bind_match([LOOPBACK_NET], self.key)} }};\n")
        return self._named(self._named_conf("    notify no;\n", zone))


class BindPrimary(_BindBase, Primary):
    """named as a primary: ixfr-from-differences, so a reload with a new serial
    can be served as IXFR; NOTIFY only to the given targets (notify explicit)."""

    def command(self) -> list:
        keyref = f' key "{self.key.name}"' if self.key else ""
        also = " ".join(f"{a} port {p}{keyref};" for a, p in self.notify_targets)
        allow = _bind_match(self.allow, self.key) if self.allow else "none;"
        zone = (f"    type primary;\n"
                f'    file "{self.zone_path}";\n'
                f"    ixfr-from-differences yes;\n"
                f"    notify explicit;\n"
                + (f"    also-notify {{ {also} }};\n" if also else "")
                + f"    allow-transfer {{ {allow} }};\n")
        return self._named(self._named_conf("", zone))

    def _reconfigure(self) -> None:
        # SIGHUP: named re-reads named.conf and the zones.
        self.reload()

    def _reload_zone(self) -> None:
        self.reload()


SECONDARIES = {"knot": KnotSecondary, "nsd": NsdSecondary, "bind": BindSecondary}
PRIMARIES = {"knot": KnotPrimary, "bind": BindPrimary}
