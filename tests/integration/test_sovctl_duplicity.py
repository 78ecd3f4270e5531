"""The real duplicity hooks (conf/hooks/) driven by sovctl: back a folder up to a
local file:// target (encrypted with a GPG passphrase), damage the folder,
restore it, compare. Needs Debian's duplicity package."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from sovtest.paths import BOUND_S
from sovtest.sovctl import REPO, cluster  # noqa: F401

HOOKS = REPO / "conf" / "hooks"

pytestmark = pytest.mark.skipif(shutil.which("duplicity") is None,
                                reason="duplicity not installed (Debian package: duplicity)")


def tree(root: Path) -> dict:
    """relative path -> (mode, bytes) of every file and directory under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = p.lstat()
            out[rel] = (st.st_mode, p.read_bytes() if p.is_file() else None)
    return out


def dir_digest(root: Path) -> str:
    """sovctl's digest of a directory archive (docs/sovctl.md): sha256 of sha256sum's lines."""
    files = sorted(str(p.relative_to(root)).encode() for p in root.rglob("*") if p.is_file())
    text = b"".join(hashlib.sha256((root / f.decode()).read_bytes()).hexdigest().encode() +
                    b"  " + f + b"\n" for f in files)
    return hashlib.sha256(text).hexdigest()


def agent_running(gnupg: Path) -> bool:
    """Is a gpg-agent serving this keyring? (never starts one)"""
    r = subprocess.run(["gpg-connect-agent", "--no-autostart", "GETINFO pid", "/bye"],
                       capture_output=True, text=True, env={**os.environ, "GNUPGHOME": str(gnupg)},
                       timeout=BOUND_S)
    return any(line.startswith("D ") for line in r.stdout.splitlines())  # exits 0 either way


def test_duplicity_backup_damage_restore(cluster, tmp_path):
    c = cluster
    data = tmp_path / "site" / "data"
    (data / "db").mkdir(parents=True)
    (data / "db" / "ledger.sqlite").write_bytes(os.urandom(50_000))
    (data / "config.yml").write_text("secret: PLAINTEXT-MARKER-123\n")
    (data / "empty").mkdir()
    (data / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (data / "run.sh").chmod(0o750)
    original = tree(data)

    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    passfile = tmp_path / "backup.pass"
    passfile.write_text("correct horse battery staple\n")
    passfile.chmod(0o600)
    backups = tmp_path / "backups"
    env = {"BACKUP_SOURCE": str(data), "BACKUP_TARGET": f"file://{backups}",
           "BACKUP_PASSPHRASE_FILE": str(passfile), "GNUPGHOME": str(gnupg)}
    hooks = {"dc-a": {"backup": {"command": [str(HOOKS / "backup-duplicity")], "timeout_s": 60},
                      "restore": {"command": [str(HOOKS / "restore-duplicity")],
                                  "timeout_s": 60}}}
    c.write_config(hooks, env=env)

    # 1. backup: encrypted, its digest recorded
    p, doc = c.run_json("backup", "dc-a")
    # gpg started an agent for the keyring; the hook stopped it on its way out
    assert not agent_running(tmp_path / "gnupg"), "backup-duplicity left a gpg-agent running"
    assert p.returncode == 0, p.stderr + (c.log_dir / f"{doc['id']}.log").read_text()
    archive = doc["result"]["archive"]
    adir = backups / archive
    assert doc["result"]["archive_path"] == str(adir)
    assert doc["result"]["sha256"] == dir_digest(adir)
    volumes = list(adir.iterdir())
    assert any(v.name.endswith(".difftar.gpg") for v in volumes), volumes
    for v in volumes:
        assert b"PLAINTEXT-MARKER-123" not in v.read_bytes(), f"{v} is not encrypted"
    log = (c.log_dir / f"{doc['id']}.log").read_text()
    assert f"sha256 {doc['result']['sha256']}" in log  # the hook's coreutils digest agrees

    # 2. damage
    (data / "config.yml").write_text("secret: overwritten\n")
    (data / "db" / "ledger.sqlite").unlink()
    (data / "junk").write_text("junk\n")
    assert tree(data) != original

    # 3. restore that archive: checked against the recorded digest, then put back
    p, rdoc = c.run_json("restore", "dc-a", "--archive", archive)
    rlog = (c.log_dir / f"{rdoc['id']}.log").read_text()
    assert p.returncode == 0, p.stderr + rlog
    assert not agent_running(tmp_path / "gnupg"), "restore-duplicity left a gpg-agent running"
    assert "matches its recorded sha256" in rlog
    assert tree(data) == original
    kept = list((tmp_path / "site").glob("data.before-restore-*"))
    assert len(kept) == 1 and (kept[0] / "junk").exists()  # nothing lost
    assert c.back_in_answers("dc-a")

    # 4. an archive that is not the one recorded is not restored
    victim = next(v for v in volumes if v.name.endswith(".difftar.gpg"))
    victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
    (data / "config.yml").write_text("changed after the restore\n")
    p, bad = c.run_json("restore", "dc-a", "--archive", archive)
    assert p.returncode == 1
    assert bad["state"] == "failed"
    assert "damaged or replaced" in bad["error"], bad["error"]
    assert (data / "config.yml").read_text() == "changed after the restore\n"
    assert c.admin_states("dc-a") == {"ns1": "drained", "ns2": "drained"}
