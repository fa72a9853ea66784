#!/usr/bin/env python3
"""Small clients used by tests/mock/test_mock.sh (python3 standard library only).

  mock_client.py sse PORT BODY_JSON [HEADER:VALUE ...]
      POST /v1/chat/completions, print one JSON object: status, content_type, and the
      list of SSE events as [seconds_since_headers, data].
  mock_client.py flood PORT N GAP_MS EVENTS [KEY]
      Open N streaming requests at once with asyncio, each with gap_ms/events directives,
      and print {"ok": n_complete, "failed": n, "max_open": m, "seconds": s}.
"""
import asyncio
import http.client
import json
import resource
import sys
import time


def sse(port, body, headers):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    hdrs = {"Content-Type": "application/json"}
    for h in headers:
        k, v = h.split(":", 1)
        hdrs[k.strip()] = v.strip()
    conn.request("POST", "/v1/chat/completions", body=body, headers=hdrs)
    resp = conn.getresponse()
    t0 = time.monotonic()
    events = []
    error = None
    try:
        while True:
            line = resp.readline()
            if not line:
                break
            line = line.decode("utf-8").rstrip("\r\n")
            if line.startswith("data: "):
                events.append([round(time.monotonic() - t0, 4), line[6:]])
    except (http.client.IncompleteRead, ConnectionError) as e:
        error = type(e).__name__
    print(json.dumps({"status": resp.status,
                      "content_type": resp.getheader("Content-Type"),
                      "events": events, "error": error}))


async def one_stream(port, body, key, state):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    auth = "Authorization: Bearer %s\r\n" % key if key else ""
    req = ("POST /v1/chat/completions HTTP/1.1\r\nHost: mock\r\n%s"
           "Content-Type: application/json\r\nContent-Length: %d\r\n"
           "Connection: close\r\n\r\n" % (auth, len(body))).encode() + body
    writer.write(req)
    await writer.drain()
    state["open"] += 1
    state["max_open"] = max(state["max_open"], state["open"])
    data = b""
    try:
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                break
            data += chunk
    except OSError:
        pass
    state["open"] -= 1
    writer.close()
    return data.startswith(b"HTTP/1.1 200") and b"data: [DONE]" in data


async def flood(port, n, gap, events, key):
    body = json.dumps({"model": "mock-gpt", "stream": True, "messages": [
        {"role": "user",
         "content": "hi [[mock:gap_ms=%d;events=%d]]" % (gap, events)}]}).encode()
    state = {"open": 0, "max_open": 0}
    t0 = time.monotonic()
    res = await asyncio.gather(*[one_stream(port, body, key, state) for _ in range(n)])
    ok = sum(1 for r in res if r)
    print(json.dumps({"ok": ok, "failed": n - ok, "max_open": state["max_open"],
                      "seconds": round(time.monotonic() - t0, 2)}))


def main():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    cmd = sys.argv[1]
    port = int(sys.argv[2])
    if cmd == "sse":
        sse(port, sys.argv[3].encode(), sys.argv[4:])
    elif cmd == "flood":
        key = sys.argv[6] if len(sys.argv) > 6 else ""
        asyncio.run(flood(port, int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), key))
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
