#!/usr/bin/env python3
"""bench/client.py: the client side of imagegen's benchmarks.

Submits cases through nginx, watches the store (read-only, so that polling
costs imagegen nothing), and prints key=value lines for bench/report.py.

  client.py case URL TOKEN DB MOCKLOG CASEID CONCURRENCY
  client.py generate URL TOKEN N INTERVAL_MS
  client.py scale URL TOKEN DB N TIMEOUT_S
"""
import heapq, http.client, json, os, sqlite3, statistics, subprocess, sys, threading, time
import urllib.parse

FINAL = ("completed", "partial", "failed")


def case_body(cid, ne=10, nl=4):
    def item(prefix, i, what):
        return {"id": f"{prefix}-{i}", "name": f"{what} {i}",
                "description": f"{what} number {i} of case {cid}"}
    return json.dumps({"caseId": cid,
                       "evidence": [item("ev", i, "Evidence") for i in range(ne)],
                       "locations": [item("loc", i, "Location") for i in range(nl)]})


class Client:
    """One keep-alive connection to nginx, as a game backend would hold."""
    def __init__(self, url, token):
        u = urllib.parse.urlsplit(url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self.token = token

    def generate(self, cid):
        body = case_body(cid)
        start = time.time()
        self.conn.request("POST", "/api/generate-case-images", body,
                          {"Content-Type": "application/json",
                           "Authorization": "Bearer " + self.token})
        r = self.conn.getresponse()
        r.read()
        end = time.time()
        if r.status != 202:
            sys.exit(f"client: generate {cid}: HTTP {r.status}")
        return start, end


class PgDb:
    """The test's PostgreSQL database, through t/db (psql): the few polls a
    run makes need no driver."""

    def execute(self, sql, args):
        for a in args:
            sql = sql.replace("?", "'" + str(a).replace("'", "''") + "'", 1)
        tdb = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "t", "db")
        out = subprocess.run([tdb, sql], capture_output=True, text=True, check=True).stdout
        rows = [line.split("|") for line in out.splitlines() if line]
        return Rows([(r[0], r[1], int(r[2]) if r[2] else 0) for r in rows])


class Rows(list):
    def fetchall(self):
        return list(self)


def db_open(path):
    if path.startswith(("postgresql://", "postgres://")):
        return PgDb()
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)


def wait_final(db, ids, timeout):
    """Waits until every case is final; returns {id: (status, completed_at)}."""
    end, marks = time.time() + timeout, ",".join("?" * len(ids))
    while True:
        rows = db.execute(f"SELECT case_id, status, completed_at FROM jobs"
                          f" WHERE case_id IN ({marks})", ids).fetchall()
        done = {r[0]: (r[1], r[2]) for r in rows if r[1] in FINAL}
        if len(done) == len(ids) or time.time() > end:
            return done
        time.sleep(0.02)


def schedule(latencies, conc):
    """The lower bound, a sliding window's makespan with no overhead at all
    (requests started in order, each the moment a place is free), and the
    reference design's fixed batches of 5, 5 and 4."""
    bound = max(max(latencies), sum(latencies) / conc)
    free = [0.0] * conc
    for lat in latencies:
        heapq.heappush(free, heapq.heappop(free) + lat)
    batches = sum(max(latencies[i:i + 5]) for i in range(0, len(latencies), 5))
    return bound, max(free), batches


def mock_calls(mock_log, cid):
    """Each image's drawn latency, in the case's order (evidence, then
    locations), and when the first request came and the last answer left."""
    lat, starts, ends = {}, [], []
    with open(mock_log) as f:
        for line in f:
            rec = json.loads(line)
            p = rec.get("prompt") or ""
            if f" of case {cid}" in p and rec.get("latency") is not None:
                what = "ev" if "Evidence number" in p else "loc"
                n = int(p.split(" number ")[1].split(" ")[0])
                lat[(what, n)] = rec["latency"]
                starts.append(rec["t_start"])
                ends.append(rec["t_end"])
    order = [("ev", i) for i in range(10)] + [("loc", i) for i in range(4)]
    return [lat[k] for k in order if k in lat], min(starts, default=0), max(ends, default=0)


def cmd_case(url, token, dbpath, mock_log, cid, conc):
    c = Client(url, token)
    _, t202 = c.generate(cid)
    done = wait_final(db_open(dbpath), [cid], 120)
    if cid not in done:
        sys.exit(f"client: {cid} did not finish")
    status, completed_at = done[cid]
    # The mock logs a call once its answer is sent: the last may come a moment late.
    end = time.time() + 5
    while len(mock_calls(mock_log, cid)[0]) < 14 and time.time() < end:
        time.sleep(0.02)
    lat, first, last = mock_calls(mock_log, cid)
    if len(lat) != 14:
        sys.exit(f"client: {cid}: {len(lat)} image-API calls logged, not 14")
    bound, window, batches = schedule(lat, int(conc))
    print(f"status={status}\nwall_ms={completed_at - t202 * 1000:.0f}\n"
          f"bound_ms={bound * 1000:.0f}\nwindow_ms={window * 1000:.0f}\n"
          f"batches_ms={batches * 1000:.0f}\n"
          f"to_first_request_ms={(first - t202) * 1000:.0f}\n"
          f"after_last_answer_ms={completed_at - last * 1000:.0f}")


def cmd_generate(url, token, n, interval_ms):
    c, times = Client(url, token), []
    for i in range(int(n)):
        start, end = c.generate(f"bench-gen-{os.getpid()}-{i}")
        times.append((end - start) * 1000)
        time.sleep(float(interval_ms) / 1000)
    times.sort()
    print(f"generate_median_ms={statistics.median(times):.2f}\n"
          f"generate_p99_ms={times[int(len(times) * 0.99) - 1]:.2f}")


def rss_sampler(stop, peak):
    """The sum of every imagegen process's resident set, at its highest."""
    while not stop.is_set():
        total = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/status") as f:
                    st = f.read()
            except OSError:
                continue
            if st.startswith("Name:\timagegen\n"):
                for line in st.splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        peak[0] = max(peak[0], total)
        time.sleep(0.1)


def cmd_scale(url, token, dbpath, n, timeout):
    ids = [f"bench-scale-{i}" for i in range(int(n))]
    stop, peak = threading.Event(), [0]
    sampler = threading.Thread(target=rss_sampler, args=(stop, peak), daemon=True)
    sampler.start()
    c = Client(url, token)
    t0 = time.time()
    for cid in ids:
        c.generate(cid)
    submitted = time.time()
    done = wait_final(db_open(dbpath), ids, float(timeout))
    stop.set()
    sampler.join()
    statuses = [s for s, _ in done.values()]
    last = max(at for _, at in done.values()) if done else 0
    print(f"scale_cases={len(ids)}\nscale_final={len(done)}\n"
          f"scale_completed={statuses.count('completed')}\n"
          f"scale_submit_ms={(submitted - t0) * 1000:.0f}\n"
          f"scale_wall_ms={last - t0 * 1000:.0f}\nscale_rss_total_kib={peak[0]}")


if __name__ == "__main__":
    cmds = {"case": cmd_case, "generate": cmd_generate, "scale": cmd_scale}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    cmds[sys.argv[1]](*sys.argv[2:])
