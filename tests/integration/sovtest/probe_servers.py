#!/usr/bin/python3
"""Stand-in datacenter endpoints for the probe tests.

Run as a separate process so a test can kill it (SIGKILL, like a crashed
site) and start it again on the same port:

    probe_servers.py http      --bind 127.0.0.2 [--port N] [--status 200] [--body TEXT]
                               [--fail-file F]  # while F exists: 503 "down"
    probe_servers.py https     --bind 127.0.0.2 --cert C --key K [...]
    probe_servers.py blackhole --bind 127.0.0.2 [--port N]   # accepts, never answers
    probe_servers.py accept-close --bind 127.0.0.2 [--port N] # accepts and closes (tcp probes)
    probe_servers.py dns       --bind 127.0.0.2 [--port N] --answer 192.0.2.1  # UDP

Prints "READY <port>" on stdout once listening (port 0 picks a free one).
"""
import argparse
import http.server
import os
import socket
import socketserver
import ssl
import sys
import threading


class Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    body = b"OK healthy\n"
    fail_file = None  # while this file exists the site answers 503 "down"

    def do_GET(self):  # noqa: N802 (http.server's naming)
        if self.path != "/health":
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        status, body = self.status, self.body
        if self.fail_file and os.path.exists(self.fail_file):
            status, body = 503, b"down\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def make_http_server(args):
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET

    class Server(http.server.ThreadingHTTPServer):
        address_family = family
        allow_reuse_address = True
        daemon_threads = True

        def handle_error(self, request, client_address):
            pass  # a probe aborting a TLS handshake is expected here

    Handler.status = args.status
    Handler.body = args.body.encode()
    Handler.fail_file = args.fail_file
    srv = Server((args.bind, args.port), Handler)
    if args.mode == "https":
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    return srv


def run_blackhole(args):
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.bind, args.port))
    s.listen(128)
    print("READY", s.getsockname()[1], flush=True)
    held = []
    while True:
        conn, _ = s.accept()
        held.append(conn)  # keep it open, say nothing


def run_accept_close(args):
    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.bind, args.port))
    s.listen(1024)
    print("READY", s.getsockname()[1], flush=True)
    while True:
        conn, _ = s.accept()
        conn.close()


def run_dns(args):
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rrset

    family = socket.AF_INET6 if ":" in args.bind else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((args.bind, args.port))
    print("READY", s.getsockname()[1], flush=True)
    while True:
        data, peer = s.recvfrom(4096)
        try:
            q = dns.message.from_wire(data)
        except Exception:
            continue
        r = dns.message.make_response(q)
        r.flags |= dns.flags.AA
        if args.rcode != "NOERROR":
            r.set_rcode(dns.rcode.from_text(args.rcode))
        elif args.answer and q.question:
            name = q.question[0].name
            r.answer.append(dns.rrset.from_text(name, 60, "IN", "A", args.answer))
        s.sendto(r.to_wire(), peer)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["http", "https", "blackhole", "accept-close", "dns"])
    ap.add_argument("--bind", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--status", type=int, default=200)
    ap.add_argument("--body", default="OK healthy\n")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--answer", default="")
    ap.add_argument("--rcode", default="NOERROR")
    ap.add_argument("--fail-file")
    args = ap.parse_args()

    if args.mode == "blackhole":
        run_blackhole(args)
    elif args.mode == "accept-close":
        run_accept_close(args)
    elif args.mode == "dns":
        run_dns(args)
    else:
        srv = make_http_server(args)
        print("READY", srv.server_address[1], flush=True)
        srv.serve_forever()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
