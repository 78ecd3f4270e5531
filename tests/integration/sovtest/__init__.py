"""Helpers of the sovdns integration tests, one place for each thing.

  paths        where things are: the repository, SOVDNS_BIN (one default), sovctl
  wait         wait_until: every wait is a condition with a bound
  ports        free loopback ports and addresses, host:port text
  procs        ending a process we started (by its PID), log tails, ports read from logs
  servers      DNS servers for the answer tests: sovdns, knotd, nsd (start, ready, stop)
  peers        Knot, NSD and BIND as zone-transfer primaries and secondaries (TSIG)
  daemon       the real sovdns with datacenters, probes and the HTTP API (ApiDaemon)
  api          the HTTP API client part, assert_error, parse_time
  dnsclient    make_query, exchange, query/Reply, mixcase, ECS helpers
  sites        stand-in datacenters (Site), processes running probe_servers.py
  pki          a test CA and leaf certificates (openssl)
  geo          the geo tests' zone and server helpers
  e2e          the layout of test_api_dns.py (three sites, DNS + API)
  apiserver    the layout and fixture of test_api_*.py (two sites, API)
  prom         Prometheus text parsing
  sovctl       two sovdns instances and sovctl (test_sovctl_*.py)

No tests here.
"""
