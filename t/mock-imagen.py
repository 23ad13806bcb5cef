#!/usr/bin/env python3
"""Mock of Google's Imagen `predict` API over real HTTP, for imagegen's tests.

Usage: mock-imagen.py --port-file FILE --log FILE [--key KEY] [--latency SEC]
           [--latency-min A --latency-max B] [--seed N] [--size PX] [--image FILE]

--latency-min/--latency-max: each prompt's latency is drawn, uniformly, from
a generator seeded with --seed and the prompt: the same prompt waits the
same time on every run. --image: every picture is this file (a photograph,
say) instead of a pattern drawn from the prompt.

Listens on 127.0.0.1 (kernel-chosen port, written atomically to --port-file)
and serves POST /v1beta/models/{model}:predict, GET /_stats, POST /_reset.
Faults are requested from inside the prompt: [[fault:NAME]], [[fault:NAMExN]]
(first N requests with that exact prompt only), [[fault:delay=SEC]],
[[fault:hang=SEC]], [[fault:gate=N]] (wait, 120 s at most, until the file
--gate's value followed by .N exists: a test holds requests until it says).
Every request is logged as one JSON line to --log.
"""
import argparse, base64, email.utils, hashlib, json, os, random, re, select
import socket, struct, sys, threading, time, zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import CLIENT_GONE, QuietHandler, serve  # noqa: E402

PREDICT_RE = re.compile(r"/v1beta/models/[A-Za-z0-9._-]+:predict")
# Lazy name so "500x3" parses as name "500", count 3 (no fault name ends in x<digits>).
FAULT_RE = re.compile(r"\[\[fault:([A-Za-z0-9_]+?)"      # name
                      r"(?:=([0-9]+(?:\.[0-9]*)?))?"      # =SEC argument
                      r"(?:x([0-9]+))?\]\]")              # xN count
FAULTS = {"400", "401", "403", "408", "429", "429date", "500", "502", "503", "504",
          "hang", "delay", "gate", "badbase64",
          "notimage", "empty", "filtered", "badjson", "close", "bomb"}
ERR_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
              404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 429: "RESOURCE_EXHAUSTED",
              408: "DEADLINE_EXCEEDED", 500: "INTERNAL", 502: "UNAVAILABLE",
              503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

LOCK = threading.Lock()          # guards STATS, FAULT_COUNTS
LOG_LOCK = threading.Lock()
STATS = {"requests": 0, "inflight": 0, "peak_inflight": 0}
FAULT_COUNTS = {}                # prompt string -> requests seen carrying a marker
PNG_CACHE = {}                   # (prompt, sample index) -> base64 PNG
IMAGE_BODY = {}                  # sample count -> whole answer, for --image
ARGS = LOG = None


def make_png(seed_text, size):
    """Valid RGB8 PNG whose colours/layout derive from a hash of seed_text:
    vertical gradient, vertical stripes, and two horizontal bands.
    Built row by row with bytes multiplication (no per-pixel Python loop)."""
    h = hashlib.sha256(seed_text.encode("utf-8", "surrogatepass")).digest()
    top, bottom, stripe, band = h[0:3], h[3:6], h[6:9], h[9:12]
    nstripes = 3 + h[12] % 6
    period = max(2, size // nstripes)
    width = max(1, period * (2 + h[13] % 4) // 10)     # stripe is 20-50% of period
    band_h = max(1, size // (8 + h[14] % 8))
    bands = [(h[15] * size // 256, band_h), (h[16] * size // 256, band_h // 2 + 1)]
    rows = []
    for y in range(size):
        t = y / max(1, size - 1)
        grad = bytes(int(a + (b - a) * t) for a, b in zip(top, bottom))
        if any(b0 <= y < b0 + bh for b0, bh in bands):
            # Inside a band: band colour with stripes in the inverted gradient.
            bg, fg = band, bytes(255 - c for c in grad)
        else:
            bg, fg = grad, stripe
        unit = bg * (period - width) + fg * width
        row = (unit * (size // period + 1))[:3 * size]
        rows.append(b"\0" + row)                        # filter type 0 (None)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)   # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


def bomb_png(side=30000):
    """A decompression bomb: a few hundred bytes that declare side x side RGB
    pixels, 2.7 GB for 30000; the first rows of zeros compress to nothing."""
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    rows = zlib.compress(b"\0" * (3 * side + 1) * 16, 9)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", rows)
            + chunk(b"IEND", b""))


def png_b64(prompt, index):
    key = (prompt, index)
    if key not in PNG_CACHE:     # a racing duplicate computation is harmless
        seed = prompt if index == 0 else "%s#%d" % (prompt, index)
        PNG_CACHE[key] = base64.b64encode(make_png(seed, ARGS.size)).decode()
    return PNG_CACHE[key]


def draw_latency(body):
    """The prompt's own draw, so that it does not depend on arrival order."""
    if ARGS.latency_min is None:
        return ARGS.latency
    try:
        prompt = body["instances"][0]["prompt"]
    except (KeyError, IndexError, TypeError):
        prompt = ""
    return random.Random("%d:%s" % (ARGS.seed, prompt)).uniform(ARGS.latency_min,
                                                                ARGS.latency_max)


def image_answer(count):
    """The --image answer, encoded once: the mock must not be the bottleneck."""
    if count not in IMAGE_BODY:
        with open(ARGS.image, "rb") as f:
            b64 = base64.b64encode(f.read()).decode()
        mime = "image/jpeg" if ARGS.image.endswith((".jpg", ".jpeg")) else "image/png"
        IMAGE_BODY[count] = json.dumps({"predictions": [
            {"bytesBase64Encoded": b64, "mimeType": mime}] * count}).encode()
    return IMAGE_BODY[count]


def validate(body):
    """Return (prompt, sample_count) or raise ValueError with a message."""
    if not isinstance(body, dict):
        raise ValueError("request body must be a JSON object")
    inst = body.get("instances")
    if not isinstance(inst, list) or not inst or not isinstance(inst[0], dict):
        raise ValueError("'instances' must be a non-empty array of objects")
    prompt = inst[0].get("prompt")
    if not isinstance(prompt, str):
        raise ValueError("instances[0].prompt must be a string")
    params = body.get("parameters", {})
    if not isinstance(params, dict):
        raise ValueError("'parameters' must be an object")
    n = params.get("sampleCount", 1)
    # Honour sampleCount like the real API; anything odd falls back to 1.
    n = n if isinstance(n, int) and not isinstance(n, bool) and 1 <= n <= 4 else 1
    return prompt, n


class Handler(QuietHandler):
    def send(self, status, body, extra=(), cut=False):
        """Send a complete response; with cut, announce the full Content-Length
        but send only half of the body and hang up (the "close" fault)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        # Out of flight before the first byte goes back: once the client has its
        # answer it may start another request, and the peak must not count both.
        self.leave()
        self.rec["status"] = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body[:len(body) // 2] if cut else body)
        self.wfile.flush()
        if cut:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)

    def send_error_json(self, code, message, extra=()):
        self.send(code, {"error": {"code": code, "message": message,
                                   "status": ERR_STATUS.get(code, "UNKNOWN")}}, extra=extra)

    def gone(self, rec):             # 499 = nginx's "client closed request"
        rec["client_gone"], rec["status"] = True, 499

    def wait(self, secs):
        """Sleep secs, but return False early if the client hangs up."""
        end = time.monotonic() + secs
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return True
            r, _, _ = select.select([self.connection], [], [], left)
            if r:
                try:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return False          # orderly close (EOF)
                except OSError:
                    return False              # reset
                time.sleep(max(0, end - time.monotonic()))  # pipelined data: just sleep
                return True

    def dispatch(self):
        path, _, query = self.path.partition("?")
        self.rec = rec = {
            "t_start": time.time(), "t_end": None, "method": self.command, "path": path,
            "query": query, "headers": {}, "body": None, "raw_len": 0, "prompt": None,
            "fault": None, "status": None, "inflight_at_start": None, "latency": None,
            "client_gone": False}
        for k, v in self.headers.items():
            k = k.lower()
            rec["headers"][k] = rec["headers"][k] + ", " + v if k in rec["headers"] else v
        try:
            try:
                raw = self.read_body()
            except ValueError:
                self.close_connection = True
                return self.send_error_json(400, "malformed request body framing")
            rec["raw_len"] = len(raw)
            try:
                rec["body"] = json.loads(raw) if raw else None
            except ValueError:
                pass
            if path == "/_stats":
                if self.command != "GET":
                    return self.send_error_json(405, "use GET", [("Allow", "GET")])
                with LOCK:
                    snap = dict(STATS)
                return self.send(200, snap)
            if path == "/_reset":
                if self.command != "POST":
                    return self.send_error_json(405, "use POST", [("Allow", "POST")])
                with LOCK:
                    # inflight is a gauge of live requests: keep it, or it goes negative.
                    STATS.update(requests=0, peak_inflight=STATS["inflight"])
                    FAULT_COUNTS.clear()
                return self.send(200, {"ok": True})
            if not PREDICT_RE.fullmatch(path):
                return self.send_error_json(404, "no such route: %s" % path)
            if self.command != "POST":
                return self.send_error_json(405, "method %s not allowed" % self.command,
                                            [("Allow", "POST")])
            self.predict(rec, query)
        except CLIENT_GONE:
            rec["client_gone"] = True
        finally:
            rec["t_end"] = time.time()
            line = json.dumps(rec) + "\n"
            with LOG_LOCK:
                LOG.write(line)
                LOG.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = dispatch

    def predict(self, rec, query):
        with LOCK:
            STATS["requests"] += 1
            STATS["inflight"] += 1
            STATS["peak_inflight"] = max(STATS["peak_inflight"], STATS["inflight"])
            rec["inflight_at_start"] = STATS["inflight"]   # includes this request
            rec["latency"] = draw_latency(rec["body"])
        self.in_flight = True
        try:
            self.predict_inner(rec, query)
        finally:
            self.leave()

    def leave(self):
        if getattr(self, "in_flight", False):
            self.in_flight = False
            with LOCK:
                STATS["inflight"] -= 1

    def predict_inner(self, rec, query):
        if not self.wait(rec["latency"]):
            return self.gone(rec)
        if "key=" in query:
            return self.send_error_json(400, "API key must not be passed in the URL")
        if ARGS.key is not None and self.headers.get("x-goog-api-key") != ARGS.key:
            return self.send_error_json(403, "API key not valid")
        try:
            if rec["body"] is None and rec["raw_len"]:
                raise ValueError("Invalid JSON payload received")
            prompt, count = validate(rec["body"])
        except ValueError as e:
            return self.send_error_json(400, str(e))
        rec["prompt"] = prompt
        fault, arg = None, None
        m = FAULT_RE.search(prompt)
        if "[[fault:" in prompt and not m:   # a typo'd marker must not pass silently
            return self.send_error_json(400, "mock-imagen: malformed fault marker")
        if m:
            name, arg, limit = m.group(1), m.group(2), m.group(3)
            if name not in FAULTS:
                return self.send_error_json(400, "mock-imagen: unknown fault %r" % name)
            with LOCK:
                FAULT_COUNTS[prompt] = seen = FAULT_COUNTS.get(prompt, 0) + 1
            if limit is None or seen <= int(limit):
                fault = name
        rec["fault"] = fault

        if fault in ("400", "401", "403", "408", "500", "502", "503", "504"):
            return self.send_error_json(int(fault), "mock-imagen injected fault %s" % fault)
        if fault == "429":      # [[fault:429=SEC]]: Retry-After in seconds (default 1)
            return self.send_error_json(429, "Quota exceeded (mock)",
                                        [("Retry-After", str(int(float(arg or 1))))])
        if fault == "429date":  # [[fault:429date=SEC]]: Retry-After as an HTTP-date
            when = email.utils.formatdate(time.time() + float(arg or 2), usegmt=True)
            return self.send_error_json(429, "Quota exceeded (mock)", [("Retry-After", when)])
        if fault in ("hang", "delay"):
            secs = float(arg) if arg else (600.0 if fault == "hang" else 1.0)
            if not self.wait(secs):
                return self.gone(rec)
        if fault == "gate":
            path, end = "%s.%d" % (ARGS.gate, int(float(arg or 0))), time.monotonic() + 120
            while not os.path.exists(path) and time.monotonic() < end:
                if not self.wait(0.05):
                    return self.gone(rec)
        if fault == "badbase64":
            preds = [{"bytesBase64Encoded": "!!!not base64###", "mimeType": "image/png"}]
        elif fault == "bomb":
            preds = [{"bytesBase64Encoded": base64.b64encode(bomb_png()).decode(),
                      "mimeType": "image/png"}]
        elif fault == "notimage":
            junk = base64.b64encode(b"hello, this is not an image" * 50).decode()
            preds = [{"bytesBase64Encoded": junk, "mimeType": "image/png"}]
        elif fault == "empty":
            preds = []
        elif fault == "filtered":
            preds = [{"raiFilteredReason": "Blocked by safety filter"}]
        elif fault == "badjson":
            return self.send(200, b'{"predictions": [')
        elif ARGS.image:
            return self.send(200, image_answer(count))
        else:
            preds = [{"bytesBase64Encoded": png_b64(prompt, i), "mimeType": "image/png"}
                     for i in range(count)]
        self.send(200, {"predictions": preds}, cut=(fault == "close"))



def main():
    global ARGS, LOG
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port-file", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--key")
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--latency-min", type=float)
    p.add_argument("--latency-max", type=float)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--image")
    p.add_argument("--gate", default="/nonexistent/gate")
    ARGS = p.parse_args()
    if (ARGS.latency_min is None) != (ARGS.latency_max is None):
        p.error("--latency-min and --latency-max go together")
    if ARGS.size < 1:
        p.error("--size must be positive")
    LOG = open(ARGS.log, "a", encoding="utf-8")
    serve(Handler, ARGS.port_file)


if __name__ == "__main__":
    main()
