"""--check-config passes exactly when the daemon will start and serve drains:
the state directory and state files are checked by the same code as a start
(api/store.h store_check_dir, store_check_files), and a start refuses what the
check refuses."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from sovtest.apiserver import TOKENS, ApiServer
from sovtest.paths import BOUND_S, default_sovdns_bin


def check_config(srv) -> subprocess.CompletedProcess:
    return subprocess.run([str(default_sovdns_bin()), "--check-config", str(srv.config_path)],
                          capture_output=True, text=True, timeout=BOUND_S, cwd=srv.dir)


def refused_both_ways(srv, *texts):
    """--check-config fails and a start is refused, each saying texts."""
    r = check_config(srv)
    assert r.returncode != 0, f"--check-config passed:\n{r.stdout}{r.stderr}"
    for t in texts:
        assert t in r.stderr, r.stderr
    rc, out = srv.start_failure()
    assert rc != 0
    for t in texts:
        assert t in out, out


def test_state_file_that_is_not_json_fails_the_check(tmp_path):
    srv = ApiServer(tmp_path / "api")
    srv.state_dir.mkdir(mode=0o750)
    (srv.state_dir / "admin.json").write_text("{\"version\": 1, \"datacenters\": \n")
    refused_both_ways(srv, "admin.json", "not valid JSON")
    (srv.state_dir / "admin.json").write_text("{\"version\": 1, \"datacenters\": {}}\n")
    (srv.state_dir / "operations.json").write_text("[1, 2]\n")
    refused_both_ways(srv, "operations.json")
    (srv.state_dir / "operations.json").unlink()
    assert check_config(srv).returncode == 0
    srv.start()
    assert srv.drain("dc-east").status_code == 200


def test_world_writable_state_dir_is_refused(tmp_path):
    srv = ApiServer(tmp_path / "api")
    srv.state_dir.mkdir()
    srv.state_dir.chmod(0o777)
    refused_both_ways(srv, str(srv.state_dir), "may be written by any user", "chmod o-w")
    srv.state_dir.chmod(0o750)
    assert check_config(srv).returncode == 0


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run as another user")


@needs_root
def test_state_dir_the_user_cannot_write_is_refused(tmp_path):
    nobody = pwd.getpwnam("nobody")
    srv = ApiServer(tmp_path / "api")
    srv.conf["user"] = "nobody"
    srv.write_config()
    # pytest's own directories are 0700 root: nobody cannot reach anything
    # below them, and the check says which directory is in the way
    srv.state_dir.mkdir(mode=0o750)
    os.chown(srv.state_dir, nobody.pw_uid, nobody.pw_gid)
    refused_both_ways(srv, "cannot be reached by \"user\" nobody", "may not be searched")
    # a state_dir nobody can reach: /tmp/…, 0755 on the way
    top = Path(tempfile.mkdtemp(prefix="sovdns-i16-", dir="/tmp"))
    try:
        top.chmod(0o755)
        srv.state_dir = top / "state"
        srv.conf["state_dir"] = str(srv.state_dir)
        srv.write_config()
        # missing: a start as root would create it owned by root, and then refuse
        r = check_config(srv)
        assert r.returncode != 0 and "does not exist" in r.stderr, r.stderr
        assert "install -d -o nobody" in r.stderr
        rc, out = srv.start_failure()
        assert rc != 0 and "cannot be written by \"user\" nobody" in out, out
        # so it is there now, owned by root, 0750: nobody cannot write it
        assert srv.state_dir.stat().st_uid == 0
        refused_both_ways(srv, "cannot be written by \"user\" nobody", "state_write_failed")
        # nobody's: the check passes, the daemon starts and drains work
        os.chown(srv.state_dir, nobody.pw_uid, nobody.pw_gid)
        r = check_config(srv)
        assert r.returncode == 0, r.stderr
        srv.start()
        r = srv.drain("dc-east")
        assert r.status_code == 200, r.text
        assert srv.admin_state("dc-east") in ("draining", "drained")
        srv.stop()
    finally:
        shutil.rmtree(top)


def test_scope_for_a_datacenter_that_does_not_exist(tmp_path):
    tokens = {**TOKENS, "typo": ("drain:dc-esat", "typo-secret-0123456789abcdef0123")}
    srv = ApiServer(tmp_path / "api", tokens=tokens)
    refused_both_ways(srv, 'datacenter "dc-esat" is not configured (datacenters: dc-east, dc-west)',
                      str(srv.config_path) + ":")


def test_check_summary_and_start_log_name_the_api(tmp_path):
    srv = ApiServer(tmp_path / "api")
    r = check_config(srv)
    assert r.returncode == 0, r.stderr
    summary = r.stdout.splitlines()[-1]
    for text in ("configuration ok", "2 datacenters", "2 services", "1 checks (2 probes)",
                 "HTTP API on 127.0.0.1:0 with 3 token(s)", f"state in {srv.state_dir}"):
        assert text in summary, summary
    srv.start()
    assert f"HTTP API listening on 127.0.0.1:{srv.port} with 3 token(s)" in srv.log()
    assert f"HTTP API on 127.0.0.1:{srv.port}" in srv.log()  # the "ready" line
