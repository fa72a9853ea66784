"""The foundation, end to end: proxying (JSON and SSE), errors in OpenAI's
envelope, limits, audit lines, reload, drain, client aborts, and 2,000
concurrent streams, against the mock provider."""
import http.client
import json
import re
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
from gwtest import (GW_BIN, MOCK_KEY, Gateway, Mock, base_config, check, dechunk, finish,
                    sse_events)

ENV = {"MOCK_KEY": MOCK_KEY}


def err_shape(j):
    return (isinstance(j, dict) and isinstance(j.get("error"), dict)
            and isinstance(j["error"].get("message"), str) and "type" in j["error"]
            and "code" in j["error"] and "param" in j["error"])


def test_failover(mock):
    print("failover to the next target before anything reached the client")
    cfg = base_config(mock.port)
    cfg["models"]["fo"] = {"targets": [{"provider": "dead", "model": "x"},
                                       {"provider": "mock", "model": "fo-second"}]}
    cfg["models"]["fo429"] = {"targets": [{"provider": "mock", "model": "fo-first"},
                                          {"provider": "mock", "model": "fo-second"}]}
    gw = Gateway(cfg, env=ENV)
    try:
        mock.reset()
        st, h, body, j = gw.chat("hello", model="fo")
        check(st == 200 and j["choices"][0]["message"]["content"] == "Echo: hello", "unreachable first target -> second (%d)" % st)
        reqs = mock.requests()
        check(len(reqs) == 1 and json.loads(reqs[0]["body"])["model"] == "fo-second", "second target's model sent")
        mock.reset()
        mock.configure("status=429;retry_after=1", 1)
        st, h, body, j = gw.chat("again", model="fo429")
        models = [json.loads(r["body"])["model"] for r in mock.requests()]
        check(st == 200 and models == ["fo-first", "fo-second"], "429 -> next target (%d, %s)" % (st, models))
        mock.configure("status=503", 1)
        raw, arrivals = gw.raw_stream({"model": "fo429", "stream": True,
                                       "messages": [{"role": "user", "content": "streamed"}]})
        head, payload = dechunk(raw)
        check(head.startswith("HTTP/1.1 200") and b"[DONE]" in payload, "stream fails over before its first byte")
        mock.configure("status=503", 2)
        st, h, body, j = gw.chat("both down", model="fo429")
        check(st == 503 and err_shape(j), "every target failed -> the last answer (%d)" % st)
        mock.configure("", -1)
        lines = gw.audit_lines()
        check(sum(1 for l in lines if l.get("failovers") == 1 and l["status"] == 200) == 3,
              "audit counts failovers")
    finally:
        gw.stop()


def test_basic(gw, mock):
    print("basic endpoints")
    st, h, body, j = gw.request("GET", "/healthz")
    check(st == 200 and j == {"status": "ok"}, "healthz")
    st, h, body, j = gw.request("GET", "/readyz")
    check(st == 200, "readyz")
    st, h, body, j = gw.request("GET", "/v1/models")
    check(st == 200 and j["object"] == "list" and
          sorted(m["id"] for m in j["data"]) == ["dead-model", "mock-gpt"], "models list")
    check(h.get("x-request-id", "").startswith("req_"), "request id header")


def test_chat_json(gw, mock):
    print("chat JSON")
    mock.reset()
    st, h, body, j = gw.chat("hello there", temperature=0.7)
    check(st == 200, "chat status 200 (got %d %s)" % (st, body[:200]))
    check(j and j["choices"][0]["message"]["content"] == "Echo: hello there", "echo content")
    check(j and j["object"] == "chat.completion" and "usage" in j, "completion shape")
    reqs = mock.requests()
    check(len(reqs) == 1, "mock saw one request")
    if reqs:
        fwd = json.loads(reqs[0]["body"])
        check(fwd["model"] == "gpt-4o-mini-upstream", "model alias rewritten to upstream model")
        check(fwd["temperature"] == 0.7, "reals survive re-encoding (0.7)")
        hdrs = {k.lower(): v for k, v in reqs[0]["headers"].items()}
        check(hdrs.get("authorization") == "Bearer " + MOCK_KEY, "provider key sent upstream")
        check(reqs[0]["path"] == "/v1/chat/completions", "upstream path")


def test_embeddings(gw, mock):
    print("embeddings")
    st, h, body, j = gw.request("POST", "/v1/embeddings", {"model": "mock-gpt", "input": ["a", "b"]})
    check(st == 200 and len(j["data"]) == 2, "embeddings proxied")


def test_stream(gw, mock):
    print("streaming: events arrive separately, as produced")
    body = {"model": "mock-gpt", "stream": True,
            "messages": [{"role": "user", "content": "one two three [[mock:gap_ms=300;events=3]]"}]}
    raw, arrivals = gw.raw_stream(body)
    head, payload = dechunk(raw)
    check(head.startswith("HTTP/1.1 200"), "stream status 200")
    check("text/event-stream" in head.lower(), "stream content type")
    ev = sse_events(payload.decode())
    check(ev and ev[-1] == "[DONE]", "stream ends with [DONE]")
    content = "".join(json.loads(e)["choices"][0]["delta"].get("content") or ""
                      for e in ev if e != "[DONE]" and json.loads(e)["choices"])
    check(content.startswith("Echo: one two three"), "stream content reassembles (%r)" % content)
    # content events are 300 ms apart: they must not arrive in one buffer
    content_times = []
    seen = b""
    for t, chunk in arrivals:
        seen += chunk
        if b'"content":"' in chunk and b'"content":""' not in chunk:
            content_times.append(t)
    check(len(content_times) >= 3, "at least 3 separate arrivals with content (%d)" % len(content_times))
    if len(content_times) >= 3:
        check(content_times[-1] - content_times[0] >= 0.5,
              "arrivals spread over time (%.2fs)" % (content_times[-1] - content_times[0]))


def test_upstream_errors(gw, mock):
    print("upstream failures")
    st, h, body, j = gw.chat("x [[mock:status=429;retry_after=7]]")
    check(st == 429 and h.get("retry-after") == "7" and err_shape(j), "429 + Retry-After passed")
    st, h, body, j = gw.chat("x [[mock:status=500]]")
    check(st == 500 and err_shape(j), "500 passed in envelope")
    st, h, body, j = gw.chat("x [[mock:status=503]]")
    check(st == 503 and err_shape(j), "503 passed in envelope")
    st, h, body, j = gw.chat("x [[mock:malformed=1]]")
    check(st == 502 and err_shape(j) and j["error"]["code"] == "upstream_malformed", "malformed -> 502")
    st, h, body, j = gw.chat("x [[mock:drop=before]]")
    check(st == 502 and err_shape(j) and j["error"]["code"] == "upstream_unreachable", "drop -> 502")
    st, h, body, j = gw.chat("x", model="dead-model")
    check(st == 502 and err_shape(j) and "dead" in j["error"]["message"], "unreachable -> 502")
    t = time.time()
    st, h, body, j = gw.chat("x [[mock:delay_ms=5000]]")
    check(st == 504 and err_shape(j) and j["error"]["code"] == "upstream_timeout", "timeout -> 504")
    check(time.time() - t < 4, "timeout honoured (limits.upstream_timeout_ms)")
    st, h, body, j = gw.chat("x [[mock:stall=headers]]", stream=True)
    check(st == 504 and err_shape(j), "stalled stream before headers -> 504 (%d)" % st)
    body = {"model": "mock-gpt", "stream": True,
            "messages": [{"role": "user", "content": "a b c d [[mock:drop=mid;gap_ms=50]]"}]}
    raw, arrivals = gw.raw_stream(body, read_timeout=10)
    head, payload = dechunk(raw)
    ev = sse_events(payload.decode(errors="replace"))
    check(head.startswith("HTTP/1.1 200") and any('"error"' in e for e in ev),
          "mid-stream drop -> error event")
    check(not raw.endswith(b"0\r\n\r\n"), "mid-stream drop -> truncated chunked body")
    check(MOCK_KEY not in gw.logs(), "key never in logs")


def test_bad_requests(gw, mock):
    print("bad requests")
    st, h, body, j = gw.request("POST", "/v1/chat/completions", b'{"model": "mock-gpt", "messages": [')
    check(st == 400 and err_shape(j) and j["error"]["code"] == "invalid_json", "malformed JSON 400")
    st, h, body, j = gw.request("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]})
    check(st == 400 and j["error"]["param"] == "model", "missing model 400")
    st, h, body, j = gw.request("POST", "/v1/chat/completions", {"model": "mock-gpt", "messages": "hi"})
    check(st == 400 and j["error"]["param"] == "messages", "messages not array 400")
    st, h, body, j = gw.request("POST", "/v1/chat/completions",
                                {"model": "mock-gpt", "messages": [{"role": "boss", "content": "x"}]})
    check(st == 400 and j["error"]["param"] == "messages[0].role", "bad role 400 with param path")
    st, h, body, j = gw.request("POST", "/v1/chat/completions",
                                b'{"model":"mock-gpt","model":"other","messages":[]}')
    check(st == 400 and err_shape(j), "duplicate keys rejected")
    st, h, body, j = gw.request("POST", "/v1/chat/completions",
                                {"model": "mock-gpt", "max_tokens": -5,
                                 "messages": [{"role": "user", "content": "x"}]})
    check(st == 400 and j["error"]["param"] == "max_tokens", "negative max_tokens 400")
    st, h, body, j = gw.chat("x", model="no-such-model")
    check(st == 404 and j["error"]["code"] == "model_not_found", "unknown model 404")
    st, h, body, j = gw.request("GET", "/v1/nothing")
    check(st == 404 and err_shape(j), "unknown path 404")
    st, h, body, j = gw.request("GET", "/v1/chat/completions")
    check(st == 405 and err_shape(j), "wrong method 405")
    big = {"model": "mock-gpt", "messages": [{"role": "user", "content": "x" * 70000}]}
    st, h, body, j = gw.request("POST", "/v1/chat/completions", big)
    check(st == 413 and j["error"]["code"] == "request_too_large", "body over limit 413 (length)")
    # chunked upload without Content-Length: detected while reading
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(20):
        s.sendall(b"1000\r\n" + b"a" * 4096 + b"\r\n")
    s.sendall(b"0\r\n\r\n")
    resp = b""
    while b"\r\n\r\n" not in resp or not resp.rstrip().endswith(b"}"):
        c = s.recv(65536)
        if not c:
            break
        resp += c
    s.close()
    check(resp.startswith(b"HTTP/1.1 413"), "body over limit 413 (chunked)")
    test_header_limits(gw)


def raw_exchange(port, data):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(data)
    resp = b""
    while True:
        c = s.recv(65536)
        if not c:
            break
        resp += c
        head, _, rest = resp.partition(b"\r\n\r\n")
        m = [l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
        if m and len(rest) >= int(m[0].split(b":")[1]):
            break
    s.close()
    return resp


def test_header_limits(gw):
    """headers over limits.max_header_bytes: 431 in the envelope; over MHD's pool
    or malformed: MHD's own answer, and the audit line says what it was"""
    before = len(gw.audit_lines(settle=0.1))
    post = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    # the default limit is 16 KiB; MHD's pool holds 4 KiB more
    resp = raw_exchange(gw.port, post + b"X-Big: " + b"a" * 18000 + b"\r\nContent-Length: 2\r\n\r\n{}")
    body = resp.partition(b"\r\n\r\n")[2]
    j = json.loads(body) if body.startswith(b"{") else None
    check(resp.startswith(b"HTTP/1.1 431") and err_shape(j) and
          j["error"]["code"] == "headers_too_large", "headers over the limit: 431 in the envelope")
    resp = raw_exchange(gw.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 16000 + b"\r\n\r\n")
    check(resp.startswith(b"HTTP/1.1 200"), "headers under the limit (16,000 bytes) pass")
    resp = raw_exchange(gw.port, post + b"X-Big: " + b"a" * 120000 + b"\r\nContent-Length: 2\r\n\r\n{}")
    check(resp.startswith(b"HTTP/1.1 431"), "headers over the connection pool: 431 from MHD")
    resp = raw_exchange(gw.port, post + b"Bad Header Line\r\n\r\n")
    check(resp.startswith(b"HTTP/1.1 400"), "malformed header line: 400 from MHD")
    lines = gw.audit_lines()[before:]
    got = [(l.get("status"), l.get("error")) for l in lines]
    want = [(431, "headers_too_large"), (200, None), (431, "headers_too_large"), (400, "malformed_request")]
    check(got == want, "audit lines say what each was (%r)" % got)


def test_audit(gw, mock):
    print("audit: one line per request, no prompt text, no key")
    before = len(gw.audit_lines())
    secret = "PLANTED-SECRET-7731"
    gw.chat("tell me about " + secret)
    gw.chat("y", model="nope")
    gw.request("POST", "/v1/chat/completions", b"{bad json " + secret.encode())
    lines = gw.audit_lines()
    new = lines[before:]
    check(len(new) == 3, "exactly 3 new audit lines (%d)" % len(new))
    text = open(gw.audit_path).read()
    check(secret not in text, "prompt text never in audit")
    check(MOCK_KEY not in text, "key never in audit")
    if len(new) == 3:
        ok = [l for l in new if l["status"] == 200][0] if any(l["status"] == 200 for l in new) else {}
        for k in ("ts", "id", "endpoint", "model", "provider", "target_model", "upstream_status",
                  "status", "latency_ms", "upstream_ms", "upstream_first_byte_ms", "overhead_ms",
                  "bytes_in", "bytes_out"):
            check(k in ok, "audit field %s" % k)
        # loops write their lines independently: match by content, not by order
        by_status = {l["status"]: l for l in new}
        ok = by_status.get(200, {})
        check(ok.get("upstream_status") == 200, "audit statuses")
        check(by_status.get(404, {}).get("error") == "model_not_found", "audit of a 404")
        check(by_status.get(400, {}).get("error") == "invalid_json", "audit of a 400")


def test_client_abort(gw, mock):
    print("client disconnect mid-stream cancels the upstream transfer")
    mock.reset()
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    data = json.dumps({"model": "mock-gpt", "stream": True, "messages": [
        {"role": "user", "content": "a b c d e f g h i j [[mock:gap_ms=400;events=10]]"}]}).encode()
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n" % len(data) + data)
    got = s.recv(65536)
    check(got.startswith(b"HTTP/1.1 200"), "stream started")
    s.close()
    t0 = time.time()
    aborted = False
    while time.time() - t0 < 3:
        st = mock.stats()
        if st.get("aborted", 0) >= 1:
            aborted = True
            break
        time.sleep(0.1)
    check(aborted, "upstream transfer cancelled within 3s (10 events x 400ms would take 4s)")
    lines = gw.audit_lines(settle=0.5)
    check(lines and lines[-1].get("error") == "client_closed", "audit says client_closed")


def test_concurrent_streams(gw, mock, n=2000):
    print("%d concurrent streams" % n)
    mock.reset()
    body = json.dumps({"model": "mock-gpt", "stream": True, "messages": [
        {"role": "user", "content": "x y z [[mock:gap_ms=5000;events=2]]"}]}).encode()
    req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body)) + body
    sel = selectors.DefaultSelector()
    socks = {}
    for i in range(n):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(("127.0.0.1", gw.port))
        socks[s] = [req, b""]
        sel.register(s, selectors.EVENT_WRITE)
    done = 0
    ok = 0
    deadline = time.time() + 60
    while done < n and time.time() < deadline:
        for key, ev in sel.select(timeout=1):
            s = key.fileobj
            st = socks[s]
            if ev & selectors.EVENT_WRITE:
                try:
                    sent = s.send(st[0])
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    sel.unregister(s); s.close(); done += 1
                    continue
                st[0] = st[0][sent:]
                if not st[0]:
                    sel.modify(s, selectors.EVENT_READ)
            else:
                try:
                    c = s.recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    c = b""
                if c:
                    st[1] += c
                    continue
                sel.unregister(s)
                s.close()
                done += 1
                if st[1].startswith(b"HTTP/1.1 200") and b"[DONE]" in st[1]:
                    ok += 1
    for s in list(socks):
        try:
            sel.unregister(s)
        except (KeyError, ValueError):
            pass
        s.close()
    stats = mock.stats()
    check(ok == n, "all %d streams completed (%d ok)" % (n, ok))
    check(stats.get("max_concurrent", 0) >= n * 0.95,
          "streams were open at the same time upstream (max_concurrent %d)" % stats.get("max_concurrent", 0))


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_idle_cpu(gw, mock):
    """after a burst on reused upstream connections the loops sleep: an
    event loop that polls (a timer that keeps firing) shows up as CPU"""
    body = json.dumps({"model": "mock-gpt", "messages": [{"role": "user", "content": "hi"}]})

    def worker():
        c = http.client.HTTPConnection("127.0.0.1", gw.port, timeout=10)
        for _ in range(300):
            c.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
            c.getresponse().read()
        c.close()
    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    time.sleep(0.5)
    hz = os.sysconf("SC_CLK_TCK")
    t0 = cpu_ticks(gw.p.pid)
    time.sleep(3)
    used = (cpu_ticks(gw.p.pid) - t0) / hz
    check(used < 0.15, "idle after a burst: %.2f s CPU in 3 s" % used)


def test_metrics(gw):
    """GET /metrics: Prometheus text; the request counters are the audit lines
    counted by endpoint and status, the histograms agree with them"""
    print("metrics: Prometheus text that agrees with the audit log")
    lines = gw.audit_lines(settle=0.5)
    st, h, body, j = gw.request("GET", "/metrics")
    check(st == 200 and h.get("content-type", "").startswith("text/plain; version=0.0.4"),
          "metrics served as Prometheus text")
    text = body.decode() if isinstance(body, bytes) else body
    got, counts = {}, {}
    for l in text.splitlines():
        m = re.match(r'gateway_requests_total\{endpoint="([^"]+)",code="(\d+)"\} (\d+)$', l)
        if m:
            got[(m.group(1), int(m.group(2)))] = int(m.group(3))
        m = re.match(r'gateway_request_duration_seconds_count\{endpoint="([^"]+)"\} (\d+)$', l)
        if m:
            counts[m.group(1)] = int(m.group(2))
    want = {}
    for a in lines:
        k = (a.get("endpoint"), a.get("status"))
        want[k] = want.get(k, 0) + 1
    check(got == want, "request counters equal the audit lines (%d kinds)" % len(want))
    per_ep = {}
    for (ep, _), n in want.items():
        per_ep[ep] = per_ep.get(ep, 0) + n
    check(counts == per_ep, "histogram counts equal the requests per endpoint")
    check(re.search(r"^gateway_requests_in_flight [1-9]", text, re.M) is not None,
          "in-flight gauge counts the scrape itself")
    check("gateway_client_connections" in text and "gateway_failovers_total" in text,
          "gauges and failover counter present")
    check("mock-gpt" not in text and MOCK_KEY not in text, "no model or key in the metrics")


def test_reload_and_drain(mock):
    print("SIGHUP reload, bad reload refused, SIGTERM drain")
    cfg = base_config(mock.port)
    gw = Gateway(cfg, env=ENV)
    try:
        cfg["models"]["added-model"] = {"provider": "mock", "model": "m2"}
        gw.write_config(cfg)
        gw.signal(signal.SIGHUP)
        time.sleep(0.5)
        st, h, body, j = gw.request("GET", "/v1/models")
        check(st == 200 and "added-model" in [m["id"] for m in j["data"]], "reload added a model")
        with open(gw.config_path, "w") as f:
            f.write('{"providers": {}, "models": 3}')
        gw.signal(signal.SIGHUP)
        time.sleep(0.5)
        st, h, body, j = gw.chat("still here", model="added-model")
        check(st == 200, "bad reload refused, old config still serves")
        check("reload refused" in gw.logs() and "models" in gw.logs(), "refusal logged with path")
        # drain: a stream in flight finishes after SIGTERM; the process then exits 0
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
        data = json.dumps({"model": "added-model", "stream": True, "messages": [
            {"role": "user", "content": "p q r [[mock:gap_ms=400;events=3]]"}]}).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(data) + data)
        first = s.recv(65536)
        gw.signal(signal.SIGTERM)
        time.sleep(0.2)
        refused = False
        try:
            socket.create_connection(("127.0.0.1", gw.port), timeout=1).close()
        except OSError:
            refused = True
        check(refused, "no new connections while draining")
        rest = first
        while True:
            c = s.recv(65536)
            if not c:
                break
            rest += c
            if rest.endswith(b"0\r\n\r\n"):
                break
        s.close()
        check(b"[DONE]" in rest, "in-flight stream completed during drain")
        rc = gw.p.wait(10)
        check(rc == 0, "exit 0 after drain")
        lines = gw.audit_lines(settle=0)
        check(any(l.get("stream") and l["status"] == 200 for l in lines), "drained stream audited")
    finally:
        gw.stop()


def test_limits(mock):
    print("connection limit and connection timeout")
    cfg = base_config(mock.port, max_connections=5, connection_timeout_s=3)
    gw = Gateway(cfg, env=ENV)
    try:
        # keep-alive connections each asking for /healthz: at most max_connections are served
        time.sleep(0.3)  # let the start-up probe's connection close
        socks = [socket.create_connection(("127.0.0.1", gw.port), timeout=5) for _ in range(8)]
        for s in socks:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        served = closed = 0
        for s in socks:
            s.settimeout(0.2)
            try:
                got = s.recv(100)
                if got.startswith(b"HTTP/1.1 200"):
                    served += 1
                elif got == b"":
                    closed += 1
            except OSError:
                closed += 1
        check(served == 5 and closed == 3,
              "max_connections: 5 served, 3 closed at accept (%d served, %d closed)" % (served, closed))
        for s in socks:
            s.close()
        time.sleep(0.5)  # let the gateway see those closes and free their slots
        s = socket.create_connection(("127.0.0.1", gw.port), timeout=5)
        s.settimeout(6)
        t = time.time()
        try:
            r = s.recv(10)
        except OSError:
            r = b""
        check(r == b"" and 2 < time.time() - t < 5.5,
              "idle connection closed by connection_timeout_s (%.1fs)" % (time.time() - t))
        s.close()
    finally:
        gw.stop()


def test_check_config():
    print("check-config")
    import tempfile
    d = tempfile.mkdtemp()
    p = os.path.join(d, "bad.json")
    with open(p, "w") as f:
        json.dump({"limits": {"max_body_bytes": 5}, "providers": {"a": {"type": "x"}},
                   "models": {"m": {"provider": "zz"}}, "extra": 1}, f)
    r = subprocess.run([GW_BIN, "check-config", "--config", p], capture_output=True, text=True)
    check(r.returncode == 1, "bad config exits 1")
    for frag in ("limits.max_body_bytes: 5 is below minimum", "providers.a.type", "providers.a.base_url",
                 "models.m.provider", "$.extra: unknown key"):
        check(frag in r.stderr, "check-config reports %r" % frag)


def main():
    mock = Mock()
    gw = Gateway(base_config(mock.port), env=ENV)
    try:
        test_basic(gw, mock)
        test_chat_json(gw, mock)
        test_embeddings(gw, mock)
        test_stream(gw, mock)
        test_upstream_errors(gw, mock)
        test_bad_requests(gw, mock)
        test_audit(gw, mock)
        test_client_abort(gw, mock)
        test_idle_cpu(gw, mock)
        test_metrics(gw)
        test_concurrent_streams(gw, mock, int(os.environ.get("GW_STREAMS", "2000")))
    finally:
        gw.stop()
    test_failover(mock)
    test_reload_and_drain(mock)
    test_limits(mock)
    test_check_config()
    mock.stop()
    finish()


if __name__ == "__main__":
    main()
