"""Waiting on a condition with a bound (never a fixed sleep)."""

from __future__ import annotations

import time

import dns.exception

from .paths import BOUND_S

# What a probing condition may raise while the thing it waits for is not there yet.
TRANSIENT = (AssertionError, OSError, dns.exception.DNSException)


def wait_until(fn, timeout=BOUND_S, what="condition", interval=0.05, *, ignore=()):
    """Polls fn() until it returns a true value, which is returned; AssertionError
    after `timeout` seconds. Exceptions listed in `ignore` count as "not yet"."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            v = fn()
            if v:
                return v
            last = v
        except ignore as e:  # noqa: PERF203 — polled on purpose
            last = e
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.2f} s waiting for {what} "
                                 f"(last: {last!r})")
        time.sleep(interval)


def wait_timed(fn, timeout=BOUND_S, what="condition", interval=0.02):
    """wait_until for probing conditions (TRANSIENT errors are "not yet");
    returns (value, seconds waited)."""
    t0 = time.monotonic()
    v = wait_until(fn, timeout, what, interval, ignore=TRANSIENT)
    return v, time.monotonic() - t0
