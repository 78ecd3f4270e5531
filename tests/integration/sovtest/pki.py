"""A test PKI made with the openssl command line: a CA, a CA nobody trusts,
and leaf certificates for the https probe tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, f"openssl {' '.join(args)}: {r.stderr}"


def make_pki(d: Path) -> dict:
    """A test CA, a CA nobody trusts, and leaf certificates: good (www.test),
    wrongname (other.test), expired (www.test, expired yesterday), untrusted
    (www.test from the other CA). Returns {"dir": d, "ca": path,
    name: [--cert, --key args of probe_servers.py]}."""
    d = Path(d)
    d.mkdir(parents=True, exist_ok=True)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    for ca in ("ca", "rogue-ca"):
        _openssl("req", "-x509", *ec, "-keyout", f"{ca}.key", "-out", f"{ca}.crt",
                 "-subj", f"/CN=sovdns test {ca}", "-days", "30", cwd=d)

    def leaf(name, dns_name, ca, days):
        (d / f"{name}.ext").write_text(
            f"subjectAltName=DNS:{dns_name}\nbasicConstraints=CA:FALSE\n"
            "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n")
        _openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                 "-subj", f"/CN={dns_name}", cwd=d)
        # OpenSSL 3's x509 takes a negative -days: notAfter before notBefore
        # (now), i.e. a certificate that expired yesterday.
        _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key",
                 "-CAcreateserial", "-out", f"{name}.crt", "-days", str(days),
                 "-extfile", f"{name}.ext", cwd=d)
        return ["--cert", str(d / f"{name}.crt"), "--key", str(d / f"{name}.key")]

    return {
        "dir": d,
        "ca": str(d / "ca.crt"),
        "good": leaf("good", "www.test", "ca", 20),
        "wrongname": leaf("wrongname", "other.test", "ca", 20),
        "expired": leaf("expired", "www.test", "ca", -1),
        "untrusted": leaf("untrusted", "www.test", "rogue-ca", 20),
    }


def self_signed(d: Path, cn: str = "localhost", san: str = "IP:127.0.0.1,DNS:localhost"):
    """A self-signed server certificate (its own CA): (cert path, key path), or
    None when openssl cannot make one."""
    d = Path(d)
    cert, key = d / "cert.pem", d / "key.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj",
                        f"/CN={cn}", "-addext", f"subjectAltName={san}", "-keyout", str(key),
                        "-out", str(cert)], capture_output=True, timeout=30)
    return (cert, key) if r.returncode == 0 else None
