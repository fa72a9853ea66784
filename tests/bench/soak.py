"""make soak: the gateway under a long mixed load, watched for leaks.

For SOAK_SECONDS (default 300), SOAK_WORKERS threads (default 12) send a mix
through the whole pipeline (redaction with the default rules and pseudonym
restore): JSON chats with personal data, SSE streams (some left mid-way by
the client), provider failures (500, 429, dropped connections, malformed
answers, delays), bad JSON, oversized headers. Every 10 s it samples the
gateway's RSS, open descriptors and CPU. It fails if, after the warm-up, the
RSS keeps growing, descriptors leak, the loops do not go idle after the load,
a request has no audit line, or an answer was wrong. Python standard library
only; the mock provider and the gateway run on free loopback ports."""
import http.client
import json
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "integration"))
from gwtest import MOCK_KEY, Gateway, Mock, base_config, check, finish  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SECONDS = float(os.environ.get("SOAK_SECONDS", "300"))
WORKERS = int(os.environ.get("SOAK_WORKERS", "12"))


def proc_stat(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])
    with open("/proc/%d/status" % pid) as f:
        rss = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
    return ticks, rss, len(os.listdir("/proc/%d/fd" % pid))


class Counters:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.by_kind = {}
        self.wrong = []

    def done(self, kind, ok, what=""):
        with self.lock:
            self.sent += 1
            self.by_kind[kind] = self.by_kind.get(kind, 0) + 1
            if not ok and len(self.wrong) < 20:
                self.wrong.append("%s: %s" % (kind, what))


def chat_body(content, stream=False):
    return json.dumps({"model": "mock-gpt", "stream": stream,
                       "messages": [{"role": "user", "content": content}]})


def one(port, kind, rnd, c):
    """one request of the given kind on its own connection; the answer checked"""
    h = {"Content-Type": "application/json"}
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    try:
        if kind == "json_pii":
            mail = "user%d@example.org" % rnd.randint(0, 10 ** 6)
            conn.request("POST", "/v1/chat/completions", chat_body("Write to " + mail), h)
            r = conn.getresponse()
            body = r.read()
            c.done(kind, r.status == 200 and mail.encode() in body, "status %d" % r.status)
        elif kind == "stream":
            conn.request("POST", "/v1/chat/completions", chat_body("one two [[mock:events=6;gap_ms=5]]", True), h)
            r = conn.getresponse()
            body = r.read()
            c.done(kind, r.status == 200 and body.rstrip().endswith(b"data: [DONE]"), "status %d" % r.status)
        elif kind == "stream_abort":
            conn.request("POST", "/v1/chat/completions", chat_body("x [[mock:events=40;gap_ms=20]]", True), h)
            r = conn.getresponse()
            r.read(200)  # the first bytes, then the client goes away
            c.done(kind, r.status == 200, "status %d" % r.status)
        elif kind == "fail":
            d = rnd.choice(["status=500", "status=429;retry_after=1", "drop=before", "drop=mid",
                            "malformed=1", "delay_ms=50"])
            conn.request("POST", "/v1/chat/completions", chat_body("x [[mock:%s]]" % d), h)
            r = conn.getresponse()
            body = r.read()
            ok = (r.status == 200) if d == "delay_ms=50" else (r.status >= 400 and b'"error"' in body)
            c.done(kind, ok, "%s -> %d" % (d, r.status))
        elif kind == "bad_json":
            conn.request("POST", "/v1/chat/completions", '{"model": "mock-gpt", "messages": [', h)
            r = conn.getresponse()
            r.read()
            c.done(kind, r.status == 400, "status %d" % r.status)
        elif kind == "big_header":
            conn.request("POST", "/v1/chat/completions", chat_body("hi"), dict(h, **{"X-Big": "a" * 18000}))
            r = conn.getresponse()
            r.read()
            c.done(kind, r.status == 431, "status %d" % r.status)
    except (OSError, http.client.HTTPException) as e:
        c.done(kind, kind == "stream_abort", repr(e))
    finally:
        conn.close()


KINDS = ["json_pii"] * 10 + ["stream"] * 4 + ["stream_abort", "fail", "fail", "bad_json", "big_header"]


def worker(port, stop, c, seed):
    rnd = random.Random(seed)
    while not stop.is_set():
        one(port, rnd.choice(KINDS), rnd, c)


def main():
    mock = Mock()
    cfg = base_config(mock.port)
    cfg["redaction"] = {"rules_dir": os.path.join(ROOT, "rules")}
    gw = Gateway(cfg, env={"MOCK_KEY": MOCK_KEY})
    pid = gw.p.pid
    hz = os.sysconf("SC_CLK_TCK")
    c = Counters()
    stop = threading.Event()
    threads = [threading.Thread(target=worker, args=(gw.port, stop, c, i)) for i in range(WORKERS)]
    t0 = time.time()
    base = proc_stat(pid)
    print("soak: %.0f s, %d workers, the whole pipeline (redaction, restore)" % (SECONDS, WORKERS))
    print("  %6s %9s %9s %6s %5s" % ("t_s", "requests", "rss_kb", "fds", "cpu"))
    for t in threads:
        t.start()
    samples = []
    last = base
    while time.time() - t0 < SECONDS:
        time.sleep(min(10, max(0.1, SECONDS - (time.time() - t0))))
        now = proc_stat(pid)
        samples.append((time.time() - t0, c.sent, now[1], now[2]))
        print("  %6.0f %9d %9d %6d %4.0f%%" % (time.time() - t0, c.sent, now[1], now[2],
                                              100.0 * (now[0] - last[0]) / hz / 10), flush=True)
        last = now
    stop.set()
    for t in threads:
        t.join()
    time.sleep(1)
    idle0 = proc_stat(pid)
    time.sleep(3)
    idle1 = proc_stat(pid)
    idle_cpu = (idle1[0] - idle0[0]) / hz
    lines = gw.audit_lines(settle=1.0)
    total = c.sent
    print("  requests %d (%s); %.0f per second" % (
        total, ", ".join("%s %d" % kv for kv in sorted(c.by_kind.items())), total / SECONDS))
    for w in c.wrong:
        print("  wrong:", w)
    check(not c.wrong, "every answer as expected (%d wrong)" % len(c.wrong))
    # every request the gateway saw has an audit line (a client may leave before
    # its request line arrives, so lines can only match or fall short by those)
    check(len(lines) == total, "an audit line per request (%d lines, %d requests)" % (len(lines), total))
    warm = [s for s in samples if s[0] >= min(60, SECONDS / 3)]
    if len(warm) >= 3:
        half = len(warm) // 2
        first = sum(s[2] for s in warm[:half]) / half
        second = sum(s[2] for s in warm[half:]) / (len(warm) - half)
        print("  rss after warm-up: %.0f KB, later %.0f KB (+%.1f%%)" % (first, second,
                                                                        100 * (second - first) / first))
        check(second <= first * 1.10 + 2048, "RSS stable after warm-up (%.0f -> %.0f KB)" % (first, second))
    # idle upstream connections stay in curl's pool for reuse: at most one per
    # client that was ever in flight; a leak would grow with the requests
    check(idle1[2] <= base[2] + 2 * WORKERS + 4,
          "descriptors: %d at the start, %d after the load (%d requests)" % (base[2], idle1[2], total))
    if len(samples) >= 4:
        early = max(s[3] for s in samples[:len(samples) // 2])
        check(samples[-1][3] <= early + 4, "descriptors do not grow with the load (%d, then %d)" %
              (early, samples[-1][3]))
    check(idle_cpu < 0.15, "idle after the load: %.2f s CPU in 3 s" % idle_cpu)
    st = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=5)
    st.request("GET", "/healthz")
    check(st.getresponse().status == 200, "still answering")
    st.close()
    gw.stop()
    mock.stop()
    finish()


if __name__ == "__main__":
    main()
