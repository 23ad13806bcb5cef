#!/usr/bin/env python3
"""Webhook receiver for imagegen's tests.

Usage: webhook-receiver.py --port-file FILE [--port N] --log FILE [--fail-first N]
           [--fail-final N] [--hold N] [--hold-final] [--status CODE]
           [--delay SEC] [--answer-bytes N]

Listens on 127.0.0.1 at --port (by default a kernel-chosen port), written
atomically to --port-file.
Every POST (any path) is logged as one JSON line to --log and answered
200 {"ok":true}, except the first N (--fail-first), which get --status
(default 500) and {"ok":false}; so are the first N posts of a final update
(--fail-final: status completed, partial or failed). GET /_count returns
{"received": N}. --hold N: the N-th post is logged with status 0 and never
answered; the connection is held until the sender hangs up (60 s at most),
as a receiver too slow to answer before the sender died; --hold-final
holds the first post of a final update so. --answer-bytes N:
each answer's body is N bytes, written until the sender hangs up; the bytes
that went are logged to the --log file's name plus .answers.
"""
import argparse, json, os, select, socket, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import CLIENT_GONE, QuietHandler, serve  # noqa: E402

LOCK = threading.Lock()
RECEIVED = 0
FINALS = 0
ARGS = LOG = None


class Handler(QuietHandler):
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
        global RECEIVED, FINALS
        t = time.time()
        try:
            raw = self.read_body()
        except ValueError:
            self.close_connection = True
            return self.reply(400, {"ok": False, "error": "bad body framing"})
        with LOCK:
            RECEIVED += 1
            fail = RECEIVED <= ARGS.fail_first
            hold = RECEIVED == ARGS.hold
        status = 0 if hold else ARGS.status if fail else 200
        text = raw.decode("utf-8", "replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("status") in ("completed", "partial", "failed"):
            with LOCK:
                FINALS += 1
                if ARGS.hold_final and FINALS == 1:
                    hold, status = True, 0
                if FINALS <= ARGS.fail_final and not hold:
                    fail, status = True, ARGS.status
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
        if hold:
            end = time.time() + 60
            while time.time() < end:
                r, _, _ = select.select([self.connection], [], [], 0.5)
                if r and not self.connection.recv(1, socket.MSG_PEEK):
                    break
            self.close_connection = True
            return
        if ARGS.delay > 0:
            time.sleep(ARGS.delay)
        if ARGS.answer_bytes:
            return self.answer_big(status)
        self.reply(status, {"ok": not fail})

    def answer_big(self, status):
        """--answer-bytes N: a body of N bytes, written until the sender hangs
        up; how much went is logged to --log's FILE.answers."""
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(ARGS.answer_bytes))
        self.end_headers()
        block, sent = b" " * 65536, 0
        try:
            while sent < ARGS.answer_bytes:
                n = min(len(block), ARGS.answer_bytes - sent)
                self.wfile.write(block[:n])
                sent += n
            self.wfile.flush()
        except CLIENT_GONE:
            pass
        self.close_connection = True
        with LOCK:
            with open(ARGS.log + ".answers", "a") as f:
                f.write(json.dumps({"sent": sent, "t": time.time()}) + "\n")



def main():
    global ARGS, LOG
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--log", required=True)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-final", type=int, default=0)
    p.add_argument("--hold", type=int, default=0)
    p.add_argument("--hold-final", action="store_true")
    p.add_argument("--status", type=int, default=500)
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--answer-bytes", type=int, default=0)
    ARGS = p.parse_args()
    LOG = open(ARGS.log, "a", encoding="utf-8")
    serve(Handler, ARGS.port_file, ARGS.port)


if __name__ == "__main__":
    main()
