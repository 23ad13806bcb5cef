#!/usr/bin/env python3
"""bench/report.py RESULTS: the table of imagegen's benchmarks, in Markdown.

Each figure stands beside the reference measured in the same run, their
ratio, the target and whether it was met. RESULTS holds key=value lines
written by bench/run.sh.
"""
import random
import statistics
import sys

from client import schedule


def load(path):
    r = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            r[k] = v
    return r


def num(r, k):
    try:
        return float(r[k])
    except (KeyError, ValueError):
        return None


ROWS = []


def row(figure, value, ref, ratio, target, ok):
    verdict = "n/a" if ok is None else ("met" if ok else "MISSED")
    ROWS.append((figure, value, ref, ratio, target, verdict))


def fmt_ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "-"


# Issue 5's "at most 0.6 s on this machine" was set when sharp took 30.4 ms
# an image there (14 x 426 ms): 1.41x. The machine's speed varies from day
# to day by as much (sharp 30-59 ms), so with sharp in the same run the
# target is that ratio; without it, the 600 ms.
CPU_TARGET_RATIO = 600 / 426


def cpu_target(cpu, sharp14):
    if sharp14:
        return (f"<= {CPU_TARGET_RATIO:.2f}x (600 ms at sharp 426)",
                cpu <= CPU_TARGET_RATIO * sharp14)
    return "<= 600 ms", cpu <= 600


def cases(r):
    """The cases with JPEG answers (the default model's), then with PNG ones,
    each case's CPU against 14 x sharp on the same input, in the same run."""
    for prefix, kind in (("case", "jpg"), ("casepng", "png")):
        cases_of(r, prefix, kind)


def cases_of(r, prefix, kind):
    i = 1
    fmt = kind.upper().replace("JPG", "JPEG")
    while f"{prefix}{i}_wall_ms" in r:
        p = f"{prefix}{i}_"
        wall, bound = num(r, p + "wall_ms"), num(r, p + "bound_ms")
        window, batches = num(r, p + "window_ms"), num(r, p + "batches_ms")
        row(f"1. case {i} ({fmt} answers): 202 to {r[p + 'status']}, ms", f"{wall:.0f}",
            f"bound {bound:.0f}", fmt_ratio(wall, bound), "<= 1.10x bound + 100 ms",
            wall <= 1.10 * bound + 100)
        row(f"   case {i}: against an ideal sliding window", f"{wall:.0f}",
            f"window {window:.0f}", fmt_ratio(wall, window), "(no target)", None)
        row(f"   case {i}: 202 to first request / last answer to done, ms",
            f"{r.get(p + 'to_first_request_ms', '?')} / {r.get(p + 'after_last_answer_ms', '?')}",
            "-", "-", "(reported)", None)
        row(f"   case {i}: reference design's batches 5/5/4", f"{batches:.0f}",
            f"bound {bound:.0f}", fmt_ratio(batches, bound), "(reference)", None)
        cpu = num(r, p + "worker_cpu_ms") + num(r, p + "responder_cpu_ms")
        comp = num(r, p + "compress_cpu_ms")
        sharp = num(r, f"sharp_{kind}_ms")
        sharp14 = 14 * sharp if sharp else None
        row(f"2. case {i} ({fmt} answers): CPU, all imagegen processes, ms", f"{cpu:.0f}"
            f" (compression {comp:.0f}, {100 * comp / cpu:.0f}%)",
            f"14 x sharp {fmt} {sharp14:.0f}" if sharp14 else "-", fmt_ratio(cpu, sharp14),
            *cpu_target(cpu, sharp14))
        i += 1


def attainable(r):
    """How often case latency's target can be met at all, over draws like
    the mock's: by a sliding window with no overhead (which cannot know a
    latency before its answer), and by longest-first (which would have to)."""
    if "case1_wall_ms" not in r:
        return
    rng, n, window_ok, lpt_ok, ratios = random.Random(1), 10000, 0, 0, []
    for _ in range(n):
        lat = [rng.uniform(0.5, 1.5) for _ in range(14)]
        bound, window, _ = schedule(lat, 5)
        lpt = schedule(sorted(lat, reverse=True), 5)[1]
        window_ok += window <= 1.10 * bound + 0.1
        lpt_ok += lpt <= 1.10 * bound + 0.1
        ratios.append(window / bound)
    row(f"1. {n} simulated draws: ideal window meets the target",
        f"{100 * window_ok / n:.0f}% of draws", f"longest-first {100 * lpt_ok / n:.1f}%",
        f"median {statistics.median(ratios):.2f}x", "(why 1 misses)", None)


def compress(r):
    for kind, target in (("png", 1.0), ("jpg", 0.6)):
        ig, sh = num(r, f"ig_{kind}_ms"), num(r, f"sharp_{kind}_ms")
        if ig is None or sh is None:
            continue
        row(f"3. compress 1024px {kind.upper()}, ms/image", f"{ig:.1f}", f"sharp {sh:.1f}",
            fmt_ratio(ig, sh), f"<= {target:.1f}x", ig <= target * sh)
        rounds = r.get(f"ig_{kind}_rounds", "").split()
        if len(rounds) > 1:
            row("   ... each round's median, taking turns", " / ".join(rounds),
                "sharp " + " / ".join(r.get(f"sharp_{kind}_rounds", "").split()), "-",
                "(reported)", None)
        ib, sb = num(r, f"ig_{kind}_bytes"), num(r, f"sharp_{kind}_bytes")
        row(f"   {kind.upper()} output bytes", f"{ib:.0f}", f"sharp {sb:.0f}",
            fmt_ratio(ib, sb), "<= 1.25x", ib <= 1.25 * sb)
        samp = r.get(f"ig_{kind}_sampling", "")
        row(f"   {kind.upper()} output chroma", samp, r.get(f"sharp_{kind}_sampling", ""),
            "-", "4:2:0 (2x2,1x1,1x1)", samp == "2x2,1x1,1x1")


def http(r, p="", on=""):
    cg, cp = num(r, p + "rps_ceiling_get"), num(r, p + "rps_ceiling_post")
    st = num(r, p + "rps_static")
    if cg is None:
        return
    row(f"4. ceiling GET (1 SELECT){on}, req/s", f"{cg:.0f}", f"static file {st:.0f}",
        fmt_ratio(cg, st), "(reference)", None)
    for k, target in (("status_200", 0.8), ("status_304", 0.9)):
        v = num(r, p + "rps_" + k)
        row(f"   status {k[-3:]}{on}, req/s", f"{v:.0f}", f"ceiling {cg:.0f}", fmt_ratio(v, cg),
            f">= {target:.1f}x", v >= target * cg)
    v = num(r, p + "rps_webhook")
    row(f"5. webhook ingest{on}, req/s", f"{v:.0f}", f"ceiling UPDATE {cp:.0f}",
        fmt_ratio(v, cp), ">= 0.7x", v >= 0.7 * cp)
    v = num(r, p + "rps_webhook_news")
    # The ceiling fed the very same requests by the same wrk script.
    cn = num(r, p + "rps_ceiling_news") or cp
    if v is not None:
        row(f"   ... each update one new image{on}, req/s", f"{v:.0f}", f"ceiling UPDATE {cn:.0f}",
            fmt_ratio(v, cn), ">= 0.7x", v >= 0.7 * cn)
    procs = num(r, p + "rps_webhook_news_procs")
    if procs is not None:
        row(f"   ... the same, one single-threaded process a CPU{on}", f"{procs:.0f}",
            f"ceiling UPDATE {cn:.0f}", fmt_ratio(procs, cn), "(reference)", None)
    sql, csql = num(r, p + "ingest_sql_us"), num(r, p + "ceiling_sql_us")
    if sql is not None:
        row(f"   ... its SQL alone, in C (bench/ingest){on}, us/update", f"{sql:.1f}",
            f"ceiling UPDATE {csql:.1f}", fmt_ratio(csql, sql), "(reference)", None)


def generate(r, p="", on=""):
    med, p99 = num(r, p + "generate_median_ms"), num(r, p + "generate_p99_ms")
    sm, sp = num(r, p + "spawn_median_ms"), num(r, p + "spawn_p99_ms")
    if med is None:
        return
    row(f"6. generate{on}, median ms", f"{med:.2f}", f"fork+exec {sm:.2f}", fmt_ratio(med, sm),
        "<= 5 ms", med <= 5)
    row(f"   generate{on}, p99 ms", f"{p99:.2f}", f"fork+exec {sp:.2f}", fmt_ratio(p99, sp),
        "(no target)", None)


def scale(r, p="", on=""):
    wall = num(r, p + "scale_wall_ms")
    if wall is None:
        return
    n, cap = num(r, p + "scale_cases"), num(r, p + "scale_cap")
    bound = n * 14 * 1000 / cap
    images = int(n * 14)
    row(f"7. {n:.0f} cases at once{on}, ms", f"{wall:.0f}", f"bound {bound:.0f}",
        fmt_ratio(wall, bound), "<= 1.15x", wall <= 1.15 * bound)
    done = int(num(r, p + "scale_rows_completed") or 0)
    files = int(num(r, p + "scale_files") or 0)
    calls = int(num(r, p + "scale_api_calls") or 0)
    row(f"   images completed / files / API calls{on}", f"{done} / {files} / {calls}",
        f"{images}", "-", "all, none lost or twice",
        done == images and files == images and calls == images)
    row(f"   peak in flight at the mock{on}", r.get(p + "scale_peak_inflight", "?"),
        f"cap {cap:.0f}", "-", "<= cap", num(r, p + "scale_peak_inflight") <= cap)
    row(f"   peak RSS, one worker / all processes{on}, MB",
        f"{num(r, p + 'scale_worker_rss_max_kib') / 1024:.1f} / "
        f"{num(r, p + 'scale_rss_total_kib') / 1024:.0f}", "-", "-", "(reported)", None)
    row(f"   database size{on}, MB", f"{num(r, p + 'scale_db_bytes') / 1048576:.2f}", "-", "-",
        "(reported)", None)


def memory(r):
    rss = num(r, "memory_rss_kib")
    if rss is None:
        return
    row("8. worker peak RSS, 14 in flight, MB", f"{rss / 1024:.1f}",
        f"{r.get('memory_peak_inflight', '?')} in flight", "-", "<= 64 MB", rss <= 65536)


def answer(r):
    """The picture arrives as base64 inside JSON: what taking it out costs,
    per image and per 14-image case, beside the image step itself."""
    comp = num(r, "answer_compress_ms")
    if comp is None:
        return
    for name in ("gemini", "openai"):
        ms = num(r, f"answer_{name}_parse_ms")
        row(f"9. {name} answer, JSON + base64 out, ms/image (x14 a case)",
            f"{ms:.1f} ({14 * ms:.0f})", f"image step {comp:.1f}", fmt_ratio(ms, comp),
            "(reported)", None)
    row("   answer bytes / picture bytes", r.get("answer_answer_bytes", "?"),
        r.get("answer_picture_bytes", "?"),
        fmt_ratio(num(r, "answer_answer_bytes"), num(r, "answer_picture_bytes")),
        "(reported)", None)


def main():
    r = load(sys.argv[1])
    for part in (cases, attainable, compress, answer):
        part(r)
    # The store's figures, each engine against its own ceiling.
    for part in (http, generate, scale):
        part(r)
        part(r, "pg_", " (PostgreSQL)")
    memory(r)
    print(f"imagegen benchmarks, {r.get('date', '?')}, {r.get('machine', '?')}, "
          f"provider {r.get('provider', '?')}\n")
    print("| figure | measured | reference | ratio | target | |")
    print("|---|---|---|---|---|---|")
    for fig, v, ref, ratio, target, verdict in ROWS:
        print(f"| {fig} | {v} | {ref} | {ratio} | {target} | {verdict} |")
    missed = sum(1 for x in ROWS if x[5] == "MISSED")
    print(f"\n{missed} target(s) missed" if missed else "\nevery target met")


if __name__ == "__main__":
    main()
