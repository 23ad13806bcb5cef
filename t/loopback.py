"""loopback.py: what the test servers in t/ share: a quiet HTTP/1.1
handler that reads any request body, and a threaded server on 127.0.0.1
whose kernel-chosen port is published atomically to a file, so a test can
wait for that file instead of guessing a free port."""
import errno, os, signal, socket, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CLIENT_GONE = (BrokenPipeError, ConnectionResetError, ConnectionAbortedError)


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):   # silence the default stderr access log
        pass

    def handle(self):
        try:
            super().handle()
        except CLIENT_GONE + (socket.timeout,):
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


class Server(ThreadingHTTPServer):
    daemon_threads = True        # hung handlers must not block exit
    block_on_close = False
    request_queue_size = 128     # bursts of parallel test clients


def bind(handler, port, host="127.0.0.1"):
    """A server on host:port (0: the kernel's choice). A port named may still
    be held, for a moment, by the server it replaces: tried for 10 s."""
    end = time.time() + 10
    while True:
        try:
            return Server((host, port), handler)
        except OSError as e:
            if e.errno != errno.EADDRINUSE or port == 0 or time.time() > end:
                raise
            time.sleep(0.05)


def serve(handler, port_file, port=0, host="127.0.0.1"):
    """Serve on host (127.0.0.1) until SIGTERM or SIGINT, which exit 0."""
    server = bind(handler, port, host)
    tmp = port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, port_file)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    signal.signal(signal.SIGINT, lambda *a: sys.exit(0))
    try:
        server.serve_forever()
    finally:
        server.server_close()
