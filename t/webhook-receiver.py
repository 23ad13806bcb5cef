#!/usr/bin/env python3
"""Webhook receiver for imagegen's tests.

Usage: webhook-receiver.py --port-file FILE --log FILE [--fail-first N]
           [--status CODE] [--delay SEC]

Listens on 127.0.0.1 (kernel-chosen port, written atomically to --port-file).
Every POST (any path) is logged as one JSON line to --log and answered
200 {"ok":true}, except the first N (--fail-first), which get --status
(default 500) and {"ok":false}. GET /_count returns {"received": N}.
"""
import argparse, json, os, signal, threading, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)
LOCK = threading.Lock()
RECEIVED = 0
ARGS = LOG = None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):   # silence the default stderr access log
        pass

    def handle(self):
        try:
            super().handle()
        except CLIENT_GONE:
            pass

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = b""
            while (n := int(self.rfile.readline().split(b";")[0] or b"0", 16)):
                out += self.rfile.read(n)
                self.rfile.readline()      # CRLF ending the chunk
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass                       # trailers
            return out
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()

    def do_GET(self):
        if self.path.partition("?")[0] == "/_count":
            with LOCK:
                n = RECEIVED
            return self.reply(200, {"received": n})
        self.reply(404, {"ok": False, "error": "not found"})

    def do_POST(self):
        global RECEIVED
        t = time.time()
        try:
            raw = self.read_body()
        except ValueError:
            self.close_connection = True
            return self.reply(400, {"ok": False, "error": "bad body framing"})
        with LOCK:
            RECEIVED += 1
            fail = RECEIVED <= ARGS.fail_first
        status = ARGS.status if fail else 200
        text = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        headers = {}
        for k, v in self.headers.items():
            k = k.lower()
            headers[k] = headers[k] + ", " + v if k in headers else v
        rec = {"t": t, "path": self.path, "headers": headers, "raw": text,
               "json": parsed, "status": status}
        # Log before replying: once the sender sees the answer, the line is on disk.
        with LOCK:
            LOG.write(json.dumps(rec) + "\n")
            LOG.flush()
        if ARGS.delay > 0:
            time.sleep(ARGS.delay)
        self.reply(status, {"ok": not fail})


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128


def main():
    global ARGS, LOG
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--status", type=int, default=500)
    p.add_argument("--delay", type=float, default=0.0)
    ARGS = p.parse_args()
    LOG = open(ARGS.log, "a", encoding="utf-8")
    server = Server(("127.0.0.1", 0), Handler)
    tmp = ARGS.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, ARGS.port_file)

    def stop(signum, frame):
        raise SystemExit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
