#!/usr/bin/env python3
"""Mock of the image providers' APIs over real HTTP, for imagegen's tests:
Google's Imagen `predict` and Gemini `generateContent`, OpenAI's
`images/generations`, and both model lists.

Usage: mock-imagen.py --port-file FILE --log FILE [--key KEY] [--latency SEC]
           [--latency-min A --latency-max B] [--seed N] [--size PX] [--image FILE]
           [--openai-key KEY] [--down PROVIDER=STATUS]

--latency-min/--latency-max: each prompt's latency is drawn, uniformly, from
a generator seeded with --seed and the prompt: the same prompt waits the
same time on every run. --image: every picture is this file (a photograph,
say) instead of a pattern drawn from the prompt.

Listens on 127.0.0.1 (kernel-chosen port, written atomically to --port-file)
and serves POST /v1beta/models/{model}:predict, POST
/v1beta/models/{model}:generateContent, GET /v1beta/models, POST
/v1/images/generations, GET /v1/models, GET /_stats, POST /_reset.
Gemini and OpenAI answer with pictures of a real photograph's size (a
1024x1024 PNG of about 1.3 MB; a JPEG when OpenAI's output_format asks),
drawn from the prompt with noise. --down gemini=503 (or openai=...) makes
every request to that provider fail with that status: an outage.
Gemini faults: safety (finishReason IMAGE_SAFETY), blocked (promptFeedback),
textonly, thoughts (draft images first), 404, 403, 429info=SEC (RetryInfo),
503, close, gzipbomb=MB (a gzip body of MB decoded). OpenAI faults: moderation,
401, 404, 429, 503, close. Imagen faults include filtered and raifirst (a
filtered sample before the picture); Imagen also answers at Vertex AI's
/v1/projects/P/locations/L/publishers/google/models/M:predict.
Faults are requested from inside the prompt: [[fault:NAME]], [[fault:NAMExN]]
(first N requests with that exact prompt only), [[fault:delay=SEC]],
[[fault:hang=SEC]], [[fault:gate=N]] (wait, 120 s at most, until the file
--gate's value followed by .N exists: a test holds requests until it says).
While the file --hold names exists, no image request is answered (120 s at
most): a test looks at a job whose requests are in flight.
Every request is logged as one JSON line to --log.
"""
import argparse, base64, email.utils, gzip, hashlib, json, os, random, re, select
import socket, struct, subprocess, sys, threading, time, zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import CLIENT_GONE, QuietHandler, serve  # noqa: E402

# Imagen on the Gemini API, and on Vertex AI (imagen_endpoint).
PREDICT_RE = re.compile(r"/v1beta/models/[A-Za-z0-9._-]+:predict|/v1/projects/[a-z0-9-]+"
                        r"/locations/[a-z0-9-]+/publishers/google/models/[A-Za-z0-9._-]+:predict")
GENERATE_RE = re.compile(r"/v1beta/models/([A-Za-z0-9._-]+):generateContent")
# The models the mock knows, as the real lists name them.
GEMINI_MODELS = {"gemini-2.5-flash-image": ["generateContent", "countTokens"],
                 "gemini-3-pro-image-preview": ["generateContent", "countTokens"],
                 "gemini-2.5-flash": ["generateContent", "countTokens"],
                 "text-embedding-004": ["embedContent"]}
OPENAI_MODELS = ["gpt-image-1", "gpt-image-1-mini", "gpt-image-1.5", "dall-e-3"]
# Lazy name so "500x3" parses as name "500", count 3 (no fault name ends in x<digits>).
FAULT_RE = re.compile(r"\[\[fault:([A-Za-z0-9_]+?)"      # name
                      r"(?:=([0-9]+(?:\.[0-9]*)?))?"      # =SEC argument
                      r"(?:x([0-9]+))?\]\]")              # xN count
FAULTS = {"400", "401", "403", "408", "429", "429date", "500", "502", "503", "504",
          "hang", "delay", "gate", "badbase64",
          "notimage", "empty", "filtered", "badjson", "close", "bomb",
          "404", "safety", "blocked", "textonly", "thoughts", "429info", "moderation",
          "gzipbomb", "raifirst"}
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
BIG_CACHE = {}                   # (prompt, format) -> base64 of a realistic picture
NOISE = None                     # shared by the realistic pictures, made once
ARGS = LOG = None


def make_png(seed_text, size):
    """Valid RGB8 PNG whose colours/layout derive from a hash of seed_text:
    vertical gradient, vertical stripes, and two horizontal bands."""
    return png_from_rows(make_png_rows(seed_text, size), size, 6)


def png_from_rows(raw, size, level):
    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)   # 8-bit RGB
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(raw, level)) + chunk(b"IEND", b""))


def make_png_rows(seed_text, size):
    """The filtered rows of make_png's picture. Built row by row with bytes
    multiplication (no per-pixel Python loop)."""
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
    return b"".join(rows)


def bomb_png(side=30000):
    """A decompression bomb: a few hundred bytes that declare side x side RGB
    pixels, 2.7 GB for 30000; the first rows of zeros compress to nothing."""
    return png_from_rows(b"\0" * (3 * side + 1) * 16, side, 9)


def png_b64(prompt, index):
    key = (prompt, index)
    if key not in PNG_CACHE:     # a racing duplicate computation is harmless
        seed = prompt if index == 0 else "%s#%d" % (prompt, index)
        PNG_CACHE[key] = base64.b64encode(make_png(seed, ARGS.size)).decode()
    return PNG_CACHE[key]


def realistic_png(prompt):
    """A 1024x1024 PNG the size of a photograph's (about 1.3 MB): the
    prompt's pattern under two bits of noise per channel, shared by every
    picture so that it is made once."""
    global NOISE
    size = 1024
    pattern = make_png_rows(prompt, size)
    if NOISE is None:
        rnd = random.Random(ARGS.seed)
        noise = bytearray(rnd.randbytes(len(pattern)).translate(
            bytes(b & 3 for b in range(256))))
        noise[::3 * size + 1] = bytes(size)        # the rows' filter bytes stay 0
        NOISE = int.from_bytes(noise, "big")
    raw = (int.from_bytes(pattern, "big") ^ NOISE).to_bytes(len(pattern), "big")
    return png_from_rows(raw, size, 1)


def realistic_b64(prompt, fmt="png"):
    # A JPEG costs a convert(1) run: eight of them serve every prompt.
    if fmt == "jpeg":
        prompt = "jpeg %d" % (hashlib.sha256(prompt.encode("utf-8", "surrogatepass"))
                              .digest()[0] % 8)
    key = (prompt, fmt)
    if key not in BIG_CACHE:     # a racing duplicate computation is harmless
        data = realistic_png(prompt)
        if fmt == "jpeg":
            data = subprocess.run(["convert", "png:-", "-quality", "90", "jpeg:-"],
                                  input=data, stdout=subprocess.PIPE, check=True).stdout
        BIG_CACHE[key] = base64.b64encode(data).decode()
    return BIG_CACHE[key]


def body_prompt(body):
    """The prompt in any of the three wire formats (Imagen, Gemini, OpenAI), or ""."""
    for path in (("instances", 0, "prompt"), ("contents", 0, "parts", 0, "text"),
                 ("prompt",)):
        v = body
        try:
            for k in path:
                v = v[k]
        except (KeyError, IndexError, TypeError):
            continue
        if isinstance(v, str):
            return v
    return ""


def draw_latency(body):
    """The prompt's own draw, so that it does not depend on arrival order
    nor on the wire format: every provider's bench draws the same latencies."""
    if ARGS.latency_min is None:
        return ARGS.latency
    prompt = body_prompt(body)
    return random.Random("%d:%s" % (ARGS.seed, prompt)).uniform(ARGS.latency_min,
                                                                ARGS.latency_max)


def image_file_b64():
    """The --image file in base64, read once."""
    if "b64" not in IMAGE_BODY:
        with open(ARGS.image, "rb") as f:
            IMAGE_BODY["b64"] = base64.b64encode(f.read()).decode()
    return IMAGE_BODY["b64"]


def image_answer(count):
    """The --image answer, encoded once: the mock must not be the bottleneck."""
    if count not in IMAGE_BODY:
        b64 = image_file_b64()
        mime = "image/jpeg" if ARGS.image.endswith((".jpg", ".jpeg")) else "image/png"
        IMAGE_BODY[count] = json.dumps({"predictions": [
            {"bytesBase64Encoded": b64, "mimeType": mime}] * count}).encode()
    return IMAGE_BODY[count]


class Encoded:
    """JSON already encoded: json.dumps() puts it in as it is. A 1.4 MB
    picture encoded anew for every answer made the mock the bottleneck
    at 32 answers a second (Gemini's 100 cases at once took 1.16-1.23x
    the bound where Imagen's, whose answer is encoded once, took 1.07x)."""

    def __init__(self, text):
        self.text = text


def image_b64_json():
    """The --image file's base64 as a JSON string, encoded once."""
    if "json" not in IMAGE_BODY:
        IMAGE_BODY["json"] = Encoded(json.dumps(image_file_b64()))
    return IMAGE_BODY["json"]


def dumps(body):
    """json.dumps, with each Encoded value spliced in, not encoded again."""
    parts = []

    def mark(o):
        if isinstance(o, Encoded):
            parts.append(o.text)
            return "\x00%d\x00" % (len(parts) - 1)
        raise TypeError(type(o).__name__)
    text = json.dumps(body, default=mark)
    for i, t in enumerate(parts):
        text = text.replace('"\\u0000%d\\u0000"' % i, t, 1)
    return text


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
            body = dumps(body).encode()
        # Out of flight before the first byte goes back: once the client has its
        # answer it may start another request, and the peak must not count both.
        self.leave()
        self.rec["status"] = status
        self.rec["sent"] = len(body)
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
            if path in ("/v1beta/models", "/v1/models"):
                if self.command != "GET":
                    return self.send_error_json(405, "use GET", [("Allow", "GET")])
                return self.model_list(path, query)
            gen = GENERATE_RE.fullmatch(path)
            if not (PREDICT_RE.fullmatch(path) or gen or path == "/v1/images/generations"):
                return self.send_error_json(404, "no such route: %s" % path)
            if self.command != "POST":
                return self.send_error_json(405, "method %s not allowed" % self.command,
                                            [("Allow", "POST")])
            self.counted(rec, lambda: self.gemini(rec, query, gen.group(1)) if gen
                         else self.openai(rec) if path.startswith("/v1/images")
                         else self.predict_inner(rec, query))
        except CLIENT_GONE:
            rec["client_gone"] = True
        finally:
            rec["t_end"] = time.time()
            line = json.dumps(rec) + "\n"
            with LOG_LOCK:
                LOG.write(line)
                LOG.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = dispatch

    def counted(self, rec, handler):
        """Count one request to an image route while it is in flight."""
        with LOCK:
            STATS["requests"] += 1
            STATS["inflight"] += 1
            STATS["peak_inflight"] = max(STATS["peak_inflight"], STATS["inflight"])
            rec["inflight_at_start"] = STATS["inflight"]   # includes this request
            rec["latency"] = draw_latency(rec["body"])
        self.in_flight = True
        try:
            if self.held():
                handler()
            else:
                self.gone(rec)
        finally:
            self.leave()

    def held(self):
        """Wait while the --hold file exists (120 s at most): a test freezes
        every answer until it has looked. False when the client hung up."""
        end = time.monotonic() + 120
        while os.path.exists(ARGS.hold) and time.monotonic() < end:
            if not self.wait(0.05):
                return False
        return True

    def leave(self):
        if getattr(self, "in_flight", False):
            self.in_flight = False
            with LOCK:
                STATS["inflight"] -= 1

    def take_fault(self, rec, prompt):
        """The prompt's fault marker, counted: (name, arg), (None, None), or
        False when the marker is malformed or unknown (a 400 was sent)."""
        m = FAULT_RE.search(prompt)
        if "[[fault:" in prompt and not m:   # a typo'd marker must not pass silently
            self.send_error_json(400, "mock-imagen: malformed fault marker")
            return False
        if not m:
            return None, None
        name, arg, limit = m.group(1), m.group(2), m.group(3)
        if name not in FAULTS:
            self.send_error_json(400, "mock-imagen: unknown fault %r" % name)
            return False
        with LOCK:
            FAULT_COUNTS[prompt] = seen = FAULT_COUNTS.get(prompt, 0) + 1
        rec["fault"] = name if limit is None or seen <= int(limit) else None
        return rec["fault"], arg

    def model_list(self, path, query):
        if path == "/v1/models":
            if self.headers.get("Authorization") != "Bearer %s" % ARGS.openai_key:
                return self.openai_error(401, "Incorrect API key provided.",
                                         "invalid_request_error", "invalid_api_key")
            return self.send(200, {"object": "list", "data": [
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "system"}
                for m in OPENAI_MODELS]})
        if "key=" in query:
            return self.send_error_json(400, "API key must not be passed in the URL")
        if self.headers.get("x-goog-api-key") != ARGS.key:
            return self.bad_google_key()
        return self.send(200, {"models": [
            {"name": "models/" + m, "displayName": m, "supportedGenerationMethods": g}
            for m, g in GEMINI_MODELS.items()]})

    def bad_google_key(self):
        """What the Gemini API says to a wrong key: a 400, not a 401."""
        return self.send(400, {"error": {
            "code": 400, "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT", "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})

    def gemini(self, rec, query, model):
        if not self.wait(rec["latency"]):
            return self.gone(rec)
        if "key=" in query:
            return self.send_error_json(400, "API key must not be passed in the URL")
        if ARGS.key is not None and self.headers.get("x-goog-api-key") != ARGS.key:
            return self.bad_google_key()
        body = rec["body"]
        try:
            prompt = body["contents"][0]["parts"][0]["text"]
            modes = body.get("generationConfig", {}).get("responseModalities", [])
            size = body["generationConfig"].get("imageConfig", {}).get("imageSize", "1K")
            if not isinstance(prompt, str):
                raise TypeError
        except (KeyError, IndexError, TypeError, AttributeError):
            return self.send_error_json(400, "Invalid JSON payload received.")
        rec["prompt"] = prompt
        if model not in GEMINI_MODELS:
            return self.send_error_json(404, "models/%s is not found for API version "
                                        "v1beta, or is not supported for generateContent."
                                        % model)
        if size not in ("512", "1K", "2K", "4K"):
            return self.send_error_json(400, "imageSize %r is not supported" % size)
        if "IMAGE" in modes and "image" not in model:
            return self.send_error_json(400, "Model does not support the requested "
                                        "response modalities: image")
        fault = self.take_fault(rec, prompt)
        if fault is False:
            return
        fault, arg = fault
        down = ARGS.down.get("gemini")
        if down:
            return self.send_error_json(down, "The model is overloaded. Please try again "
                                        "later." if down == 503 else "mock-imagen: down")
        if fault in ("400", "403", "404", "500", "502", "503", "504"):
            return self.send_error_json(int(fault), "mock-imagen injected fault %s" % fault)
        if fault in ("429", "429info"):
            return self.send(429, {"error": {
                "code": 429, "message": "You exceeded your current quota (mock).",
                "status": "RESOURCE_EXHAUSTED", "details": [{
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": "%ss" % (arg or "1")}]}})
        if fault in ("hang", "delay"):
            if not self.wait(float(arg) if arg else (600.0 if fault == "hang" else 1.0)):
                return self.gone(rec)
        usage = {"promptTokenCount": len(prompt.split()) + 5,
                 "candidatesTokenCount": 1290, "totalTokenCount": len(prompt.split()) + 1295}
        picture = {"inlineData": {"mimeType": "image/png", "data": image_b64_json()
                                  if ARGS.image else realistic_b64(prompt)}}
        finish, parts = "STOP", [picture]
        if fault == "safety":
            finish, parts = "IMAGE_SAFETY", []
        elif fault == "blocked":
            return self.send(200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                                   "usageMetadata": usage})
        elif fault == "textonly":
            # Long, and not ASCII: a cut must fall between characters.
            parts = [{"text": "Désolé — je ne peux pas dessiner « ça ». " * 12}]
        elif fault == "thoughts":
            # Drafts that are no picture at all: taking one fails the image.
            draft = base64.b64encode(b"a draft, not the picture").decode()
            parts = [{"text": "Planning the composition.", "thought": True},
                     {"inlineData": {"mimeType": "image/png", "data": draft}, "thought": True},
                     {"inlineData": {"mimeType": "image/png", "data": draft}, "thought": True},
                     {"text": "Here is the picture."}, picture]
        elif fault == "badjson":
            return self.send(200, b'{"candidates": [')
        elif fault == "gzipbomb":     # [[fault:gzipbomb=MB]]: small on the wire, MB decoded
            pad = b" " * int(float(arg or 8) * 1024 * 1024)
            return self.send(200, gzip.compress(b'{"candidates":[]' + pad + b'}'),
                             extra=[("Content-Encoding", "gzip")])
        cand = {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": 0}
        self.send(200, {"candidates": [cand], "usageMetadata": usage, "modelVersion": model},
                  cut=(fault == "close"))

    def openai_error(self, status, message, kind, code, extra=()):
        return self.send(status, {"error": {"message": message, "type": kind, "param": None,
                                            "code": code}}, extra=extra)

    def openai(self, rec):
        if not self.wait(rec["latency"]):
            return self.gone(rec)
        if ARGS.openai_key is not None and \
                self.headers.get("Authorization") != "Bearer %s" % ARGS.openai_key:
            return self.openai_error(401, "Incorrect API key provided.",
                                     "invalid_request_error", "invalid_api_key")
        body = rec["body"]
        if not isinstance(body, dict) or not isinstance(body.get("prompt"), str):
            return self.openai_error(400, "'prompt' is required", "invalid_request_error",
                                     "missing_required_parameter")
        prompt = rec["prompt"] = body["prompt"]
        model = body.get("model", "dall-e-2")
        if model not in OPENAI_MODELS:
            return self.openai_error(404, "The model `%s` does not exist or you do not have "
                                     "access to it." % model, "invalid_request_error",
                                     "model_not_found")
        if body.get("size", "auto") not in ("1024x1024", "1536x1024", "1024x1536", "auto") \
                or body.get("quality", "auto") not in ("low", "medium", "high", "auto") \
                or body.get("output_format", "png") not in ("png", "jpeg", "webp") \
                or body.get("n", 1) != 1:
            return self.openai_error(400, "Invalid value in the request (mock)",
                                     "invalid_request_error", "invalid_value")
        fault = self.take_fault(rec, prompt)
        if fault is False:
            return
        fault, arg = fault
        down = ARGS.down.get("openai") or (int(fault) if fault in ("401", "404", "503")
                                           else None)
        if down:
            return self.openai_error(down, "mock-imagen injected fault %d" % down,
                                     "server_error", None)
        if fault == "429":
            return self.openai_error(429, "Rate limit reached (mock)", "requests",
                                     "rate_limit_exceeded",
                                     [("retry-after", str(int(float(arg or 1))))])
        if fault == "moderation":
            return self.openai_error(400, "Your request was rejected by the safety system.",
                                     "image_generation_user_error", "moderation_blocked")
        fmt = "jpeg" if body.get("output_format") == "jpeg" else "png"
        self.send(200, {"created": int(time.time()), "data": [{"b64_json": image_b64_json()
                                                               if ARGS.image else
                                                               realistic_b64(prompt, fmt)}], "usage": {"input_tokens": len(prompt.split()) + 5,
                                      "output_tokens": 1056,
                                      "total_tokens": len(prompt.split()) + 1061}},
                  cut=(fault == "close"))

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
        fault = self.take_fault(rec, prompt)
        if fault is False:
            return
        fault, arg = fault

        if fault in ("400", "401", "403", "404", "408", "500", "502", "503", "504"):
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
        elif fault == "raifirst":    # with includeRaiReason, a filtered sample comes first
            preds = [{"raiFilteredReason": "One sample was filtered"},
                     {"bytesBase64Encoded": png_b64(prompt, 0), "mimeType": "image/png"}]
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
    p.add_argument("--openai-key")
    p.add_argument("--down", action="append", default=[],
                   help="PROVIDER=STATUS: every request to it fails so")
    p.add_argument("--gate", default="/nonexistent/gate")
    p.add_argument("--hold", default="/nonexistent/hold")
    ARGS = p.parse_args()
    if ARGS.openai_key is None:
        ARGS.openai_key = ARGS.key
    try:
        ARGS.down = {k: int(v) for k, v in (d.split("=", 1) for d in ARGS.down)}
    except ValueError:
        p.error("--down takes PROVIDER=STATUS")
    if (ARGS.latency_min is None) != (ARGS.latency_max is None):
        p.error("--latency-min and --latency-max go together")
    if ARGS.size < 1:
        p.error("--size must be positive")
    LOG = open(ARGS.log, "a", encoding="utf-8")
    serve(Handler, ARGS.port_file)


if __name__ == "__main__":
    main()
