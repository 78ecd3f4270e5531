"""sovctl jobs against two real sovdns instances and stand-in datacenters.

Each test gets its own cluster (sovtest/sovctl.py): two sites dc-a and
dc-b, two instances ns1 and ns2, short TTLs so a drain is safe after ~2 s.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time

from sovtest.sovctl import ADDRS, cluster, hook_script, wait_until  # noqa: F401

# A hook that watches the site while it runs: it asks both instances, over
# DNS and over the API, whether dc-a is out of the answers and drained, and
# writes what it saw; then it makes an archive and hands back its path.
WATCHING_BACKUP = r"""
import json, os, sys, tarfile, time, urllib.request
import dns.message, dns.query, dns.rdatatype

insts = json.loads(os.environ["TEST_INSTANCES"])
dc = os.environ["SOVCTL_DC"]
out = os.environ["TEST_OUT"]
samples = []
t0 = time.time()
while time.time() - t0 < float(os.environ.get("TEST_WATCH_S", "1.5")):
    for i in insts:
        q = dns.message.make_query("www.svc.test", dns.rdatatype.A)
        r = dns.query.udp(q, i["dns"][0], port=i["dns"][1], timeout=2)
        addrs = sorted(rd.address for rr in r.answer for rd in rr)
        req = urllib.request.Request(i["api"] + "/v1/datacenters/" + dc,
                                     headers={"Authorization": "Bearer " + i["token"]})
        admin = json.load(urllib.request.urlopen(req, timeout=2))["admin"]["state"]
        samples.append({"t": time.time(), "inst": i["name"], "addrs": addrs, "admin": admin})
    time.sleep(0.05)
archive = os.path.join(os.environ["TEST_ARCHIVES"], os.environ["SOVCTL_ARCHIVE"] + ".tar")
with tarfile.open(archive, "w") as tar:
    tar.add(os.environ["TEST_DATA"], arcname="data")
with open(os.environ["SOVCTL_RESULT"], "w") as f:
    json.dump({"archive_path": archive, "files": 1}, f)
env = {k: v for k, v in os.environ.items() if k.startswith("SOVCTL_")}
with open(out, "w") as f:
    json.dump({"start": t0, "end": time.time(), "samples": samples, "env": env}, f)
print("backup written to", archive)
"""


def instances_env(c):
    return json.dumps([{"name": i.name, "dns": list(i.dns), "api": i.api_url, "token": i.token}
                       for i in c.instances])


def setup_backup(c, tmp_path, hook_body=WATCHING_BACKUP, timeout_s=30, **extra):
    data = tmp_path / "data"
    data.mkdir(exist_ok=True)
    (data / "file.txt").write_text("precious\n")
    archives = tmp_path / "archives"
    archives.mkdir(exist_ok=True)
    hook = hook_script(tmp_path / "backup-hook", hook_body)
    out = tmp_path / "hook-out.json"
    env = {"TEST_INSTANCES": instances_env(c), "TEST_OUT": str(out), "TEST_DATA": str(data),
           "TEST_ARCHIVES": str(archives)}
    hooks = {dc: {"backup": {"command": [str(hook)], "timeout_s": timeout_s}}
             for dc in c.sites}
    c.write_config(hooks, env=env, **extra)
    return out


def test_backup_drains_the_site_for_the_whole_hook_run(cluster, tmp_path):
    c = cluster
    out = setup_backup(c, tmp_path)
    before = {i.name: i.answer() for i in c.instances}
    assert all(ADDRS["dc-a"] in a for a in before.values()), before

    p, doc = c.run_json("backup", "dc-a", "--reason", "nightly")
    assert p.returncode == 0, p.stderr
    assert doc["state"] == "done", doc

    seen = json.loads(out.read_text())
    samples = seen["samples"]
    # both instances, many times, from the hook's start to its end
    assert {s["inst"] for s in samples} == {"ns1", "ns2"}
    assert len(samples) >= 10, samples
    for s in samples:
        assert ADDRS["dc-a"] not in s["addrs"], f"dc-a still in the answers during the hook: {s}"
        assert ADDRS["dc-b"] in s["addrs"], s
        assert s["admin"] == "drained", s
    assert seen["end"] - seen["start"] >= 1.4

    # the context in the hook's environment
    env = seen["env"]
    assert env["SOVCTL_DC"] == "dc-a"
    assert env["SOVCTL_OPERATION"] == doc["id"]
    assert env["SOVCTL_KIND"] == "backup" and env["SOVCTL_HOOK"] == "backup"
    assert env["SOVCTL_ARCHIVE"].startswith("dc-a-")
    assert env["SOVCTL_REASON"] == "nightly"
    assert env["SOVCTL_ADDRESSES"] == ADDRS["dc-a"]
    assert set(env["SOVCTL_INSTANCES"].split()) == {"ns1", "ns2"}

    # the archive and its SHA-256, recorded locally and on both instances
    archive = tmp_path / "archives" / (env["SOVCTL_ARCHIVE"] + ".tar")
    sha = hashlib.sha256(archive.read_bytes()).hexdigest()
    assert doc["result"]["archive"] == env["SOVCTL_ARCHIVE"]
    assert doc["result"]["sha256"] == sha
    for inst in doc["instances"]:
        i = next(x for x in c.instances if x.name == inst["name"])
        code, op = i.api("GET", f"/v1/operations/{inst['operation']}")
        assert code == 200
        assert op["state"] == "done", op
        assert op["kind"] == "backup" and op["datacenter"] == "dc-a"
        assert op["result"]["archive"] == env["SOVCTL_ARCHIVE"]
        assert op["result"]["sha256"] == sha
        assert op["result"]["sovctl_operation"] == doc["id"]
        assert [h["state"] for h in op["history"]] == [
            "pending", "draining", "drained", "running", "verifying", "done"]

    # the hook's output is in the operation's log
    log = (c.log_dir / f"{doc['id']}.log").read_text()
    assert "backup written to" in log

    # the site is back
    assert c.back_in_answers("dc-a")
    # and `operations` knows it
    p, ops = c.run_json("operations")
    assert ops["operations"][0]["id"] == doc["id"]
    assert ops["operations"][0]["state"] == "done"


def test_failing_hook_leaves_site_drained_and_operation_failed(cluster, tmp_path):
    c = cluster
    setup_backup(c, tmp_path, hook_body="import sys\nprint('disk full')\nsys.exit(3)\n")
    p, doc = c.run_json("backup", "dc-a")
    assert p.returncode == 1, p.stderr
    assert doc["state"] == "failed"
    assert "status 3" in doc["error"] and "disk full" in doc["error"], doc["error"]
    assert "left drained" in p.stderr
    for inst in doc["instances"]:
        i = next(x for x in c.instances if x.name == inst["name"])
        code, op = i.api("GET", f"/v1/operations/{inst['operation']}")
        assert op["state"] == "failed", op
        assert "status 3" in op["history"][-1].get("reason", ""), op
        d = i.dc("dc-a")
        assert d["admin"]["state"] == "drained", d
        # the lease is removed: it stays out until an operator undrains it
        assert d["admin"]["lease_expires_at"] is None, d
        assert ADDRS["dc-a"] not in i.answer()
    # an operator puts it back
    p = c.run("undrain", "dc-a")
    assert p.returncode == 0, p.stderr
    wait_until(lambda: c.back_in_answers("dc-a"), what="dc-a back")


def test_hanging_hook_is_killed_at_its_timeout(cluster, tmp_path):
    c = cluster
    pidfile = tmp_path / "hook.pids"
    # the hook starts a child that ignores SIGTERM: the whole group must go
    body = f"""
import os, signal, subprocess, time
child = subprocess.Popen(["/bin/sh", "-c", "trap '' TERM; while :; do sleep 1; done"])
open({str(pidfile)!r}, "w").write(f"{{os.getpid()}} {{child.pid}}")
time.sleep(600)
"""
    setup_backup(c, tmp_path, hook_body=body, timeout_s=2)
    t0 = time.monotonic()
    p, doc = c.run_json("backup", "dc-a")
    took = time.monotonic() - t0
    assert p.returncode == 1, p.stderr
    assert doc["state"] == "failed"
    assert "timeout of 2 s" in doc["error"], doc["error"]
    assert took < 25, took
    pids = [int(x) for x in pidfile.read_text().split()]
    for pid in pids:
        wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                   open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z",
                   timeout=5, what=f"hook process {pid} gone")
    assert c.admin_states("dc-a") == {"ns1": "drained", "ns2": "drained"}
    log = (c.log_dir / f"{doc['id']}.log").read_text()
    assert "timeout of 2 s reached" in log


def test_unreachable_instance_refuses_without_allow_partial(cluster, tmp_path):
    c = cluster
    out = setup_backup(c, tmp_path, hook_body="import sys\nsys.exit(0)\n")
    ns2 = c.instances[1]
    assert ns2.stop() == 0
    p = c.run("backup", "dc-a")
    assert p.returncode == 3, p.stderr
    assert "ns2" in p.stderr
    # nothing changed on the instance that answered
    ns1 = c.instances[0]
    assert ns1.dc("dc-a")["admin"]["state"] == "active"
    code, ops = ns1.api("GET", "/v1/operations")
    assert ops["operations"] == []
    assert not out.exists()


def test_allow_partial_goes_ahead_without_the_unreachable_instance(cluster, tmp_path):
    c = cluster
    out = setup_backup(c, tmp_path, hook_body=WATCHING_BACKUP.replace("for i in insts:",
                                                                       "for i in insts[:1]:"))
    assert c.instances[1].stop() == 0
    p, doc = c.run_json("--allow-partial", "backup", "dc-a")
    assert p.returncode == 0, p.stderr
    assert "ns2" in p.stderr
    skipped = {i["name"]: i["skipped"] for i in doc["instances"]}
    assert skipped == {"ns1": False, "ns2": True}
    samples = json.loads(out.read_text())["samples"]
    assert samples and all(s["admin"] == "drained" for s in samples)
    assert c.instances[0].dc("dc-a")["admin"]["state"] == "active"


def test_deploy_all_runs_one_datacenter_at_a_time_in_order(cluster, tmp_path):
    c = cluster
    trace = tmp_path / "trace"
    hook = hook_script(tmp_path / "hook", f"""
import json, os, sys, time
with open({str(trace)!r}, "a") as f:
    f.write(f"{{time.time()}} start {{os.environ['SOVCTL_HOOK']}} {{os.environ['SOVCTL_DC']}}\\n")
time.sleep(0.3)
if os.environ["SOVCTL_HOOK"] == "backup":
    p = os.path.join({str(tmp_path)!r}, os.environ["SOVCTL_ARCHIVE"])
    open(p, "w").write("archive of " + os.environ["SOVCTL_DC"])
    print("sovctl-result: " + json.dumps({{"archive_path": p}}))
with open({str(trace)!r}, "a") as f:
    f.write(f"{{time.time()}} end {{os.environ['SOVCTL_HOOK']}} {{os.environ['SOVCTL_DC']}}\\n")
""")
    hooks = {dc: {"backup": {"command": [str(hook)]}, "deploy": {"command": [str(hook)]}}
             for dc in c.sites}
    c.write_config(hooks)
    p, doc = c.run_json("deploy", "--all", timeout=90)
    assert p.returncode == 0, p.stderr
    steps = [line.split()[1:] for line in trace.read_text().splitlines()]
    assert steps == [
        ["start", "backup", "dc-a"], ["end", "backup", "dc-a"],
        ["start", "deploy", "dc-a"], ["end", "deploy", "dc-a"],
        ["start", "backup", "dc-b"], ["end", "backup", "dc-b"],
        ["start", "deploy", "dc-b"], ["end", "deploy", "dc-b"],
    ]
    ops = doc["operations"]
    assert [o["datacenter"] for o in ops] == ["dc-a", "dc-b"]
    assert all(o["state"] == "done" for o in ops)
    for o in ops:  # each deploy left a fresh archive
        sha = hashlib.sha256(f"archive of {o['datacenter']}".encode()).hexdigest()
        assert o["result"]["sha256"] == sha
    assert c.back_in_answers("dc-a") and c.back_in_answers("dc-b")


def test_backup_all_stops_at_the_first_failure(cluster, tmp_path):
    c = cluster
    trace = tmp_path / "trace"
    hook = hook_script(tmp_path / "hook", f"""
import os, sys
open({str(trace)!r}, "a").write(os.environ["SOVCTL_DC"] + "\\n")
sys.exit(1 if os.environ["SOVCTL_DC"] == "dc-a" else 0)
""")
    c.write_config({dc: {"backup": {"command": [str(hook)]}} for dc in c.sites})
    p, doc = c.run_json("backup", "--all")
    assert p.returncode == 1
    assert trace.read_text().split() == ["dc-a"]
    assert "not touched: dc-b" in p.stderr
    assert c.admin_states("dc-b") == {"ns1": "active", "ns2": "active"}


def test_refused_when_it_would_leave_a_service_without_a_datacenter(cluster, tmp_path):
    c = cluster
    out = setup_backup(c, tmp_path, hook_body="print('ran')\n")
    c.sites["dc-b"].up = False
    for i in c.instances:
        wait_until(lambda: i.dc("dc-b")["health"] == "down", what="dc-b down")
    p = c.run("backup", "dc-a")
    assert p.returncode == 4, p.stderr
    assert "no usable datacenter" in p.stderr
    assert c.admin_states("dc-a") == {"ns1": "active", "ns2": "active"}
    assert not out.exists()


def test_resume_after_sovctl_was_killed_mid_run(cluster, tmp_path):
    c = cluster
    go = tmp_path / "go"
    runs = tmp_path / "runs"
    hook = hook_script(tmp_path / "hook", f"""
import json, os, time
open({str(runs)!r}, "a").write(os.environ["SOVCTL_ATTEMPT"] + "\\n")
while not os.path.exists({str(go)!r}):
    time.sleep(0.05)
p = os.path.join({str(tmp_path)!r}, "archive.bin")
open(p, "wb").write(b"x" * 1000)
print("sovctl-result: " + json.dumps({{"archive_path": p}}))
""")
    c.write_config({"dc-a": {"backup": {"command": [str(hook)], "timeout_s": 60}}})
    proc = subprocess.Popen(c.cmd("backup", "dc-a"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        wait_until(runs.exists, what="the hook to start")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # a killed sovctl leaves the site drained
    assert c.admin_states("dc-a") == {"ns1": "drained", "ns2": "drained"}
    p, ops = c.run_json("operations")
    op = ops["operations"][0]
    assert op["state"] == "running"
    p = c.run("operations")
    assert "interrupted" in p.stdout
    # the hook is still running under its supervisor; let it finish, then resume
    go.write_text("")
    p, doc = c.run_json("resume", op["id"])
    assert p.returncode == 0, p.stderr
    assert doc["state"] == "done"
    assert runs.read_text().split() == ["1"], "the hook ran twice"
    assert doc["result"]["sha256"] == hashlib.sha256(b"x" * 1000).hexdigest()
    wait_until(lambda: c.back_in_answers("dc-a"), what="dc-a back")
    # nothing left to resume
    assert c.run("resume", op["id"]).returncode == 6


def test_lease_ends_a_dead_sovctl_drain_and_resume_reruns_the_hook(cluster, tmp_path):
    c = cluster
    runs = tmp_path / "runs"
    hook = hook_script(tmp_path / "hook", f"""
import os, time
open({str(runs)!r}, "a").write(os.environ["SOVCTL_ATTEMPT"] + "\\n")
if os.environ["SOVCTL_ATTEMPT"] == "1":
    time.sleep(600)
print('sovctl-result: {{"sha256": "{'ab' * 32}"}}')
""")
    c.write_config({"dc-a": {"backup": {"command": [str(hook)], "timeout_s": 60}}}, lease_s=3)
    proc = subprocess.Popen(c.cmd("backup", "dc-a"), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_until(runs.exists, what="the hook to start")
        state = json.loads(c.state_file.read_text())["operations"][-1]
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    os.kill(state["supervisor_pid"], signal.SIGKILL)  # as if the machine rebooted
    # nobody renews the lease: the instances put the site back by themselves
    wait_until(lambda: c.back_in_answers("dc-a"), timeout=10, what="the lease to end")
    assert all(i.dc("dc-a")["admin"]["by"] == "lease" for i in c.instances)
    # resume drains it again (a new TTL wait), stops the orphaned first run, runs it again
    p, doc = c.run_json("resume", state["id"])
    assert p.returncode == 0, p.stderr
    assert runs.read_text().split() == ["1", "2"]
    assert doc["result"]["sha256"] == "ab" * 32
    assert "running it again" in p.stderr
    assert "stopped what was left of the earlier backup hook" in p.stderr
    assert c.back_in_answers("dc-a")


def test_abort_stops_a_running_job(cluster, tmp_path):
    c = cluster
    started = tmp_path / "started"
    hook = hook_script(tmp_path / "hook", f"""
import time
open({str(started)!r}, "w").write("")
time.sleep(600)
""")
    c.write_config({"dc-a": {"backup": {"command": [str(hook)], "timeout_s": 60}}})
    proc = subprocess.Popen(c.cmd("--json", "backup", "dc-a"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        wait_until(started.exists, what="the hook to start")
        op = json.loads(c.state_file.read_text())["operations"][-1]
        p = c.run("abort", op["id"], "--reason", "wrong day")
        assert p.returncode == 0, p.stderr
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 5, err
    doc = json.loads(out)
    assert doc["state"] == "aborted"
    assert "wrong day" in doc["error"]
    assert c.admin_states("dc-a") == {"ns1": "drained", "ns2": "drained"}


def test_ctrl_c_stops_the_hook_and_leaves_the_site_drained(cluster, tmp_path):
    c = cluster
    pidfile = tmp_path / "hook.pid"
    hook = hook_script(tmp_path / "hook", f"""
import os, time
open({str(pidfile)!r}, "w").write(str(os.getpid()))
time.sleep(600)
""")
    c.write_config({"dc-a": {"backup": {"command": [str(hook)], "timeout_s": 60}}})
    proc = subprocess.Popen(c.cmd("--json", "backup", "dc-a"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        wait_until(pidfile.exists, what="the hook to start")
        hook_pid = int(wait_until(pidfile.read_text, what="the hook's pid"))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 5, err
    doc = json.loads(out)
    assert doc["state"] == "aborted" and "interrupted" in doc["error"], doc
    assert not os.path.exists(f"/proc/{hook_pid}") or \
        open(f"/proc/{hook_pid}/stat").read().split(") ")[1][0] == "Z"
    assert c.admin_states("dc-a") == {"ns1": "drained", "ns2": "drained"}
    assert c.instances[0].dc("dc-a")["admin"]["lease_expires_at"] is None


def test_status_drain_undrain_maintenance(cluster, tmp_path):
    c = cluster
    c.write_config({})
    p, st = c.run_json("status")
    assert p.returncode == 0, p.stderr
    assert [d["id"] for d in st["datacenters"]] == ["dc-a", "dc-b"]
    assert all(not d["disagree"] for d in st["datacenters"])

    # an instance that missed a drain: the row is flagged, exit 1
    ns1 = c.instances[0]
    code, _ = ns1.api("POST", "/v1/datacenters/dc-b/drain", {"reason": "by hand"})
    assert code == 200
    p = c.run("status")
    assert p.returncode == 1
    row = next(line for line in p.stdout.splitlines() if line.startswith("dc-b"))
    assert "! instances disagree: admin answers" in row, p.stdout
    p, st = c.run_json("status")
    assert st["datacenters"][1]["disagree"] == ["admin", "in_answers"]
    assert st["datacenters"][1]["views"]["ns1"]["admin"] == "draining"

    # drain --wait brings both to drained; undrain puts it back everywhere
    p = c.run("drain", "dc-b", "--wait", "--reason", "rack work")
    assert p.returncode == 0, p.stderr
    assert "drained on every instance" in p.stderr
    assert c.admin_states("dc-b") == {"ns1": "drained", "ns2": "drained"}
    assert all(i.dc("dc-b")["admin"]["reason"] == "rack work" for i in c.instances)
    p = c.run("drain", "dc-a")  # dc-b is out: dc-a is the last one
    assert p.returncode == 4 and "no usable datacenter" in p.stderr
    assert c.admin_states("dc-a") == {"ns1": "active", "ns2": "active"}
    p = c.run("undrain", "dc-b")
    assert p.returncode == 0, p.stderr
    wait_until(lambda: c.back_in_answers("dc-b"), what="dc-b back")

    p = c.run("maintenance", "dc-a", "on", "--reason", "disk swap")
    assert p.returncode == 0, p.stderr
    assert c.admin_states("dc-a") == {"ns1": "maintenance", "ns2": "maintenance"}
    assert c.run("undrain", "dc-a").returncode == 0  # in maintenance: said, not an error
    p = c.run("maintenance", "dc-a", "off")
    assert p.returncode == 0, p.stderr
    wait_until(lambda: c.back_in_answers("dc-a"), what="dc-a back")

    # usage errors
    assert c.run("drain", "dc-zz").returncode == 2
    assert c.run("backup", "dc-a").returncode == 2  # no backup hook configured
    assert c.run("frobnicate").returncode == 2
    assert c.run("operations", "sovctl-nope").returncode == 6


def test_a_refused_token_is_not_reported_as_no_answer(cluster, tmp_path):
    c = cluster
    conf = c.write_config({})
    bad = tmp_path / "wrong.token"
    bad.write_text("not-the-secret-of-ns2-at-all-0123\n")
    bad.chmod(0o600)
    doc = json.loads(conf.read_text())
    doc["instances"][1]["token_file"] = str(bad)
    conf.write_text(json.dumps(doc))
    p = c.run("drain", "dc-a")
    assert p.returncode == 3, p.stderr
    assert "1 of 2 instance(s) refused sovctl's token" in p.stderr, p.stderr
    assert "did not answer" not in p.stderr
    assert c.admin_states("dc-a") == {"ns1": "active", "ns2": "active"}
    # "nothing to do" says what it found
    c.write_config({})
    p = c.run("undrain", "dc-a")
    assert p.returncode == 0, p.stderr
    assert "ns1 (already active), ns2 (already active)" in p.stderr, p.stderr
    assert "(unchanged)" not in p.stderr
