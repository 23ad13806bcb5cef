#!/usr/bin/env python3
"""Mock of the image providers' APIs over real HTTP, for imagegen's tests:
Google's Gemini `generateContent` and model list, OpenAI's
`images/generations` and model list, in the wire formats of
shared/reference/provider-wire-formats.md (checked 2026-12-06).

Usage: mock-imagen.py --port-file FILE --log FILE [--key KEY] [--latency SEC]
           [--latency-min A --latency-max B] [--seed N] [--size PX] [--image FILE]
           [--realistic] [--format png|jpeg|model] [--openai-key KEY]
           [--down PROVIDER=STATUS|precondition|pup|quota]
           [--retired MODEL[=STATUS]] [--model-status MODEL=STAGE[@TIME]]
           [--shutdown MODEL=YYYY-MM-DD]

--latency-min/--latency-max: each prompt's latency is drawn, uniformly, from
a generator seeded with --seed and the prompt: the same prompt waits the
same time on every run. --image: every picture is this file (a photograph,
say) instead of a pattern drawn from the prompt. --realistic: pictures of a
real photograph's size (a 1024x1024 image of about 1.3 MB, noise under the
pattern) instead of the small pattern. --format: Gemini's pictures as PNG
(the default: fast), JPEG, or as each model answers (Gemini 3 models answer
image/jpeg, 2.5 answered image/png).

Listens on 127.0.0.1 (kernel-chosen port, written atomically to --port-file)
and serves POST /v1beta/models/{model}:generateContent (and /v1/...), GET
/v1beta/models, POST /v1/images/generations, GET /v1/models, GET /_stats,
POST /_reset. The model lists name today's models (GEMINI_MODELS,
OPENAI_MODELS); a text model asked for an image answers 400, an unknown or
--retired one 404 (OpenAI: model_not_found, with --retired's STATUS).
--model-status gives Gemini's answers for MODEL a modelStatus
{modelStage, retirementTime, message}; --shutdown gives OpenAI's list a
shutdown_date. --down gemini=503 (or openai=...) makes every request to that
provider fail with that status: an outage; gemini=precondition answers 400
FAILED_PRECONDITION (billing, region), gemini=pup finishReason
PUP_LIMITED_DISABLED (the account is limited), openai=quota 429
insufficient_quota.
Gemini faults: 400 401 403 404 408 500 502 503 504 (google.rpc.Status), 429=SEC
(Retry-After), 429info=SEC (RetryInfo), 429date=SEC (an HTTP-date), safety and
filtered (finishReason IMAGE_SAFETY with a finishMessage), blocked
(promptFeedback), textonly, thoughts (draft images first), empty (no
candidates), badbase64, notimage, bomb (a decompression bomb), badjson, close,
gzipbomb=MB (a gzip body of MB decoded), precondition, pup, continuation.
OpenAI faults: moderation, 401, 404, 429, 503, close.
Faults are requested from inside the prompt: [[fault:NAME]], [[fault:NAMExN]]
(first N requests with that exact prompt only), [[fault:delay=SEC]],
[[fault:hang=SEC]], [[fault:gate=N]] (wait, 120 s at most, until the file
--gate's value followed by .N exists: a test holds requests until it says).
While the file --hold names exists, no image request is answered (120 s at
most): a test looks at a job whose requests are in flight.
Every request is logged as one JSON line to --log, with the model asked.
"""
import argparse, base64, email.utils, gzip, hashlib, json, os, random, re, select
import socket, struct, subprocess, sys, threading, time, zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from loopback import CLIENT_GONE, QuietHandler, serve  # noqa: E402

GENERATE_RE = re.compile(r"/v1(?:beta)?/models/([A-Za-z0-9._-]+):generateContent")
GEN = ["generateContent", "countTokens", "batchGenerateContent"]
# The models the mock knows, as Google's list names and describes them on
# 2026-12-06 (the changelog of 2026-10-06; the deprecations page): the
# image models and the mime type of their pictures, then text models.
GEMINI_MODELS = {
    "gemini-nano-banana-2.1": (GEN, "Nano Banana 2.1", "Gemini Nano Banana 2.1: efficient "
                               "image generation and conversational image editing", "jpeg"),
    "gemini-3.1-flash-lite-image": (GEN, "Nano Banana 2 Lite", "Gemini 3.1 Flash Lite Image:"
                                    " fast, low-cost image generation", "jpeg"),
    "gemini-3.1-flash-image": (GEN, "Nano Banana 2", "Gemini 3.1 Flash Image", "jpeg"),
    "gemini-3-pro-image": (GEN, "Nano Banana Pro", "Gemini 3 Pro Image", "jpeg"),
    "gemini-3.8-flash": (GEN, "Gemini 3.8 Flash", "Our most intelligent Flash model for "
                         "agentic and coding tasks", None),
    "gemini-embedding-2": (["embedContent"], "Gemini Embedding 2", "Embeddings", None),
}
# OpenAI's Images API models (SDK 7.60, the deprecations page), then a text model.
OPENAI_MODELS = ["gpt-image-2.6-sunburst", "gpt-image-2.6-flare", "gpt-image-2.5-sunburst",
                 "gpt-image-2.5-flare", "gpt-6.1-sol"]
OPENAI_IMAGE_MODELS = [m for m in OPENAI_MODELS if m.startswith("gpt-image-")]
# Lazy name so "500x3" parses as name "500", count 3 (no fault name ends in x<digits>).
FAULT_RE = re.compile(r"\[\[fault:([A-Za-z0-9_]+?)"      # name
                      r"(?:=([0-9]+(?:\.[0-9]*)?))?"      # =SEC argument
                      r"(?:x([0-9]+))?\]\]")              # xN count
FAULTS = {"400", "401", "403", "408", "429", "429date", "500", "502", "503", "504",
          "hang", "delay", "gate", "badbase64",
          "notimage", "empty", "filtered", "badjson", "close", "bomb",
          "404", "safety", "blocked", "textonly", "thoughts", "429info", "moderation",
          "gzipbomb", "precondition", "pup", "continuation"}
ERR_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
              404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 429: "RESOURCE_EXHAUSTED",
              408: "DEADLINE_EXCEEDED", 500: "INTERNAL", 502: "UNAVAILABLE",
              503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

LOCK = threading.Lock()          # guards STATS, FAULT_COUNTS
LOG_LOCK = threading.Lock()
STATS = {"requests": 0, "inflight": 0, "peak_inflight": 0}
FAULT_COUNTS = {}                # prompt string -> requests seen carrying a marker
PNG_CACHE = {}                   # (prompt, format) -> base64 of the pattern
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


def to_jpeg(png):
    return subprocess.run(["convert", "png:-", "-quality", "90", "jpeg:-"],
                          input=png, stdout=subprocess.PIPE, check=True).stdout


def pattern_b64(prompt, fmt="png"):
    """The prompt's pattern at --size, as PNG or JPEG, made once per prompt."""
    key = (prompt, fmt)
    if key not in PNG_CACHE:     # a racing duplicate computation is harmless
        data = make_png(prompt, ARGS.size)
        PNG_CACHE[key] = base64.b64encode(to_jpeg(data) if fmt == "jpeg" else data).decode()
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
            data = to_jpeg(data)
        BIG_CACHE[key] = base64.b64encode(data).decode()
    return BIG_CACHE[key]


def body_prompt(body):
    """The prompt in either wire format (Gemini, OpenAI), or ""."""
    for path in (("contents", 0, "parts", 0, "text"), ("prompt",)):
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


def picture(prompt, fmt):
    """(mime type, base64 as JSON) of the prompt's picture in fmt, png or jpeg."""
    if ARGS.image:
        mime = "image/jpeg" if ARGS.image.endswith((".jpg", ".jpeg")) else "image/png"
        return mime, image_b64_json()
    if ARGS.realistic:
        return "image/" + fmt, realistic_b64(prompt, fmt)
    return "image/" + fmt, pattern_b64(prompt, fmt)


def gemini_format(model):
    return GEMINI_MODELS[model][3] if ARGS.format == "model" else ARGS.format


class Handler(QuietHandler):
    def send(self, status, body, extra=(), cut=False):
        """Send a complete response; with cut, announce the full Content-Length
        but send only half of the body and hang up (the "close" fault)."""
        if isinstance(body, (dict, list)):
            body = dumps(body).encode()
        # Out of flight before the first byte goes back: once the client has its
        # answer it may start another request, and the peak must not count both.
        self.leave()
        self.rec["t_sent"] = time.time()
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
            "model": None,
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
            if not (gen or path == "/v1/images/generations"):
                return self.send_error_json(404, "no such route: %s" % path)
            if self.command != "POST":
                return self.send_error_json(405, "method %s not allowed" % self.command,
                                            [("Allow", "POST")])
            self.counted(rec, lambda: self.gemini(rec, query, gen.group(1)) if gen
                         else self.openai(rec))
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
                {"id": m, "object": "model", "created": 1700000000, "owned_by": "system",
                 "shutdown_date": ARGS.shutdown.get(m)}
                for m in OPENAI_MODELS if m not in ARGS.retired]})
        if "key=" in query:
            return self.send_error_json(400, "API key must not be passed in the URL")
        if self.headers.get("x-goog-api-key") != ARGS.key:
            return self.bad_google_key()
        return self.send(200, {"models": [
            {"name": "models/" + m, "version": "001", "displayName": g[1],
             "description": g[2], "supportedGenerationMethods": g[0]}
            for m, g in GEMINI_MODELS.items() if m not in ARGS.retired]})

    def bad_google_key(self):
        """What the Gemini API says to a wrong key: a 400, not a 401."""
        return self.send(400, {"error": {
            "code": 400, "message": "API key not valid. Please pass a valid API key.",
            "status": "INVALID_ARGUMENT", "details": [{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID", "domain": "googleapis.com"}]}})

    def gemini_request(self, rec, model):
        """The prompt of a well-formed request for a live image model, or None
        when an error was answered (the model, the modality, the size)."""
        body = rec["body"]
        try:
            prompt = body["contents"][0]["parts"][0]["text"]
            gen = body.get("generationConfig", {})
            modes = gen.get("responseModalities", [])
            size = gen.get("imageConfig", {}).get("imageSize", "1K")
            if not isinstance(prompt, str) or not isinstance(body.get("store", False), bool):
                raise TypeError
        except (KeyError, IndexError, TypeError, AttributeError):
            return self.send_error_json(400, "Invalid JSON payload received.")
        rec["prompt"] = prompt
        if model not in GEMINI_MODELS or model in ARGS.retired:
            return self.send_error_json(404, "models/%s is not found for API version "
                                        "v1beta, or is not supported for generateContent."
                                        % model)
        if size not in ("512", "1K", "2K", "4K") or \
                (size == "512" and model == "gemini-nano-banana-2.1"):
            return self.send_error_json(400, "imageSize %r is not supported" % size)
        if "IMAGE" in modes and GEMINI_MODELS[model][3] is None:
            return self.send_error_json(400, "Model does not support the requested "
                                        "response modalities: image")
        return prompt

    def google_fault(self, fault, arg):
        """Answer a fault that is an error of the API; False when it is not one."""
        if fault in ("400", "401", "403", "404", "408", "500", "502", "503", "504"):
            return self.send_error_json(int(fault), "mock-imagen injected fault %s" % fault)
        if fault == "429":      # [[fault:429=SEC]]: Retry-After in seconds (default 1)
            return self.send_error_json(429, "Quota exceeded (mock)",
                                        [("Retry-After", str(int(float(arg or 1))))])
        if fault == "429date":  # [[fault:429date=SEC]]: Retry-After as an HTTP-date
            when = email.utils.formatdate(time.time() + float(arg or 2), usegmt=True)
            return self.send_error_json(429, "Quota exceeded (mock)", [("Retry-After", when)])
        if fault == "429info":  # [[fault:429info=SEC]]: google.rpc.RetryInfo
            return self.send(429, {"error": {
                "code": 429, "message": "You exceeded your current quota (mock).",
                "status": "RESOURCE_EXHAUSTED", "details": [{
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": "%ss" % (arg or "1")}]}})
        if fault == "precondition":
            return self.send(400, {"error": {
                "code": 400, "message": "User location is not supported for the API use.",
                "status": "FAILED_PRECONDITION"}})
        return False

    def held_back(self, rec, fault, arg, prompt):
        """The delays a fault asks for; False when the client hung up meanwhile."""
        if fault in ("hang", "delay"):
            return self.wait(float(arg) if arg else (600.0 if fault == "hang" else 1.0))
        if fault == "gate":
            path, end = "%s.%d" % (ARGS.gate, int(float(arg or 0))), time.monotonic() + 120
            while not os.path.exists(path) and time.monotonic() < end:
                if not self.wait(0.05):
                    return False
        return True

    def gemini_parts(self, fault, prompt, model):
        """(finishReason, parts, finishMessage) of an answer with a picture, or the fault's."""
        mime, data = picture(prompt, gemini_format(model))
        pic = {"inlineData": {"mimeType": mime, "data": data}}
        junk = None
        if fault == "badbase64":
            junk = "!!!not base64###"
        elif fault == "notimage":
            junk = base64.b64encode(b"hello, this is not an image" * 50).decode()
        elif fault == "bomb":
            junk = base64.b64encode(bomb_png()).decode()
        if junk is not None:
            return "STOP", [{"inlineData": {"mimeType": "image/png", "data": junk}}], None
        if fault in ("safety", "filtered"):
            return "IMAGE_SAFETY", [], "Unable to show the generated image: it may violate " \
                "the policy (mock)."
        if fault in ("pup", "continuation"):
            return {"pup": "PUP_LIMITED_DISABLED", "continuation": "CONTINUATION"}[fault], [], None
        if fault == "textonly":
            # Long, and not ASCII: a cut must fall between characters.
            return "STOP", [{"text": "Désolé — je ne peux pas dessiner « ça ». " * 12}], None
        if fault == "thoughts":
            # Drafts that are no picture at all: taking one fails the image.
            draft = base64.b64encode(b"a draft, not the picture").decode()
            return "STOP", [{"text": "Planning the composition.", "thought": True},
                            {"inlineData": {"mimeType": "image/png", "data": draft},
                             "thought": True},
                            {"inlineData": {"mimeType": "image/png", "data": draft},
                             "thought": True},
                            {"text": "Here is the picture."}, pic], None
        return "STOP", [pic], None

    def gemini_down(self, down):
        if down == "precondition":
            return self.google_fault("precondition", None)
        if down == "pup":
            return self.send(200, {"candidates": [{"content": {"role": "model", "parts": []},
                                                   "finishReason": "PUP_LIMITED_DISABLED"}]})
        return self.send_error_json(int(down), "The model is overloaded. Please try again "
                                    "later." if down == "503" else "mock-imagen: down")

    def gemini(self, rec, query, model):
        rec["model"] = model
        if not self.wait(rec["latency"]):
            return self.gone(rec)
        if "key=" in query:
            return self.send_error_json(400, "API key must not be passed in the URL")
        if ARGS.key is not None and self.headers.get("x-goog-api-key") != ARGS.key:
            return self.bad_google_key()
        prompt = self.gemini_request(rec, model)
        if prompt is None:
            return
        fault = self.take_fault(rec, prompt)
        if fault is False:
            return
        fault, arg = fault
        if ARGS.down.get("gemini"):
            return self.gemini_down(ARGS.down["gemini"])
        if self.google_fault(fault, arg) is not False:
            return
        if not self.held_back(rec, fault, arg, prompt):
            return self.gone(rec)
        if fault == "blocked":
            return self.send(200, {"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"},
                                   "usageMetadata": {"promptTokenCount": 9}})
        if fault == "empty":
            return self.send(200, {"candidates": [], "usageMetadata": {"promptTokenCount": 9}})
        if fault == "badjson":
            return self.send(200, b'{"candidates": [')
        if fault == "gzipbomb":     # [[fault:gzipbomb=MB]]: small on the wire, MB decoded
            pad = b" " * int(float(arg or 8) * 1024 * 1024)
            return self.send(200, gzip.compress(b'{"candidates":[]' + pad + b'}'),
                             extra=[("Content-Encoding", "gzip")])
        finish, parts, message = self.gemini_parts(fault, prompt, model)
        cand = {"content": {"role": "model", "parts": parts}, "finishReason": finish,
                "index": 0}
        if message:
            cand["finishMessage"] = message
        self.send(200, self.gemini_answer(rec, prompt, model, cand), cut=(fault == "close"))

    def gemini_answer(self, rec, prompt, model, cand):
        gen = rec["body"].get("generationConfig", {})
        thoughts = 250 if gen.get("thinkingConfig") else 0
        usage = {"promptTokenCount": len(prompt.split()) + 5, "candidatesTokenCount": 1120,
                 "totalTokenCount": len(prompt.split()) + 1125 + thoughts}
        if thoughts:
            usage["thoughtsTokenCount"] = thoughts
        answer = {"candidates": [cand], "usageMetadata": usage, "modelVersion": model,
                  "responseId": "mock-%d" % rec["t_start"]}
        status = ARGS.model_status.get(model)
        if status:
            answer["modelStatus"] = status
        return answer

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
        model = rec["model"] = body.get("model", "dall-e-2")
        if model not in OPENAI_IMAGE_MODELS or model in ARGS.retired:
            return self.openai_error(ARGS.retired.get(model) or 404, "The model `%s` does "
                                     "not exist or you do not have access to it." % model,
                                     "invalid_request_error", "model_not_found")
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
        down = ARGS.down.get("openai")
        if down == "quota":
            return self.openai_error(429, "You exceeded your current quota, please check "
                                     "your plan and billing details.", "insufficient_quota",
                                     "insufficient_quota")
        down = int(down) if down else (int(fault) if fault in ("401", "404", "503") else None)
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
        if not self.held_back(rec, fault, arg, prompt):
            return self.gone(rec)
        fmt = "jpeg" if body.get("output_format") == "jpeg" else "png"
        self.send(200, {"created": int(time.time()), "data": [{"b64_json": picture(prompt,
                                                                                   fmt)[1]}],
                        "usage": {"input_tokens": len(prompt.split()) + 5,
                                  "output_tokens": 1056,
                                  "total_tokens": len(prompt.split()) + 1061}},
                  cut=(fault == "close"))


def model_status(text):
    """STAGE[@TIME] as Gemini's answers give it."""
    stage, _, when = text.partition("@")
    status = {"modelStage": stage, "message": "This model is %s (mock)." % stage.lower()}
    if when:
        status["retirementTime"] = when
    return status


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
    p.add_argument("--realistic", action="store_true")
    p.add_argument("--format", choices=("png", "jpeg", "model"), default="png")
    p.add_argument("--openai-key")
    p.add_argument("--down", action="append", default=[],
                   help="PROVIDER=STATUS|precondition|pup|quota: every request to it fails so")
    p.add_argument("--retired", action="append", default=[],
                   help="MODEL[=STATUS]: shut down: unlisted, and refused")
    p.add_argument("--model-status", action="append", default=[],
                   help="MODEL=STAGE[@TIME]: Gemini's modelStatus in its answers")
    p.add_argument("--shutdown", action="append", default=[],
                   help="MODEL=YYYY-MM-DD: its shutdown_date in OpenAI's list")
    p.add_argument("--gate", default="/nonexistent/gate")
    p.add_argument("--hold", default="/nonexistent/hold")
    ARGS = p.parse_args()
    if ARGS.openai_key is None:
        ARGS.openai_key = ARGS.key
    try:
        ARGS.down = dict(d.split("=", 1) for d in ARGS.down)
        ARGS.shutdown = dict(d.split("=", 1) for d in ARGS.shutdown)
        ARGS.retired = {m: int(st) if st else None for m, _, st in
                        (r.partition("=") for r in ARGS.retired)}
        ARGS.model_status = {m: model_status(v) for m, v in
                             (d.split("=", 1) for d in ARGS.model_status)}
    except ValueError:
        p.error("--down, --shutdown and --model-status take NAME=VALUE; --retired "
                "MODEL[=STATUS]")
    if (ARGS.latency_min is None) != (ARGS.latency_max is None):
        p.error("--latency-min and --latency-max go together")
    if ARGS.size < 1:
        p.error("--size must be positive")
    LOG = open(ARGS.log, "a", encoding="utf-8")
    serve(Handler, ARGS.port_file)


if __name__ == "__main__":
    main()
