"""Real faults for the real daemon: a tiny tmpfs that a test fills up, so that
writes into it fail with ENOSPC (the tests run as root; without the right to
mount, the test is skipped)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from .paths import BOUND_S


class TinyFs:
    """A tmpfs of `size` mounted on path; fill() takes every free block,
    unfill() gives them back. umount() is idempotent."""

    def __init__(self, path: Path, size: str = "256k"):
        self.path = Path(path)
        self.size = size
        self.filler = self.path / "filler"
        self.mounted = False

    def mount(self) -> bool:
        if os.geteuid() != 0:
            return False
        self.path.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={self.size}", "tmpfs",
                            str(self.path)], capture_output=True, timeout=BOUND_S)
        self.mounted = r.returncode == 0
        return self.mounted

    def fill(self):
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for _ in range(4096):  # 16 MiB at most; the file system is far smaller
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass  # ENOSPC: full
        finally:
            os.close(fd)
        # the last partial block too
        fd = os.open(self.filler, os.O_WRONLY | os.O_APPEND)
        try:
            for _ in range(4096):
                os.write(fd, b"\0")
        except OSError:
            pass
        finally:
            os.close(fd)

    def unfill(self):
        self.filler.unlink(missing_ok=True)

    def umount(self):
        if self.mounted:
            subprocess.run(["umount", str(self.path)], capture_output=True, timeout=BOUND_S)
            self.mounted = False


@pytest.fixture
def tinyfs(tmp_path):
    """A mounted TinyFs at tmp_path/small, unmounted at the end of the test
    (after the servers the test started, which conftest ends first)."""
    fs = TinyFs(tmp_path / "small")
    if not fs.mount():
        pytest.skip("cannot mount a tmpfs here (needs root and mount(8))")
    try:
        yield fs
    finally:
        from . import apiserver  # end the daemons writing into it first
        errors = apiserver.end_all()
        fs.umount()
        assert not errors, "\n".join(errors)
