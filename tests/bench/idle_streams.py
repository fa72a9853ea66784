"""Open N streams through the gateway that stay idle (the mock sends headers
and one event, then nothing), print the gateway's RSS before and with them."""
import json, os, resource, socket, sys, time
port, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
def rss_kb():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
before = rss_kb()
body = json.dumps({"model": "mock-gpt", "stream": True,
                   "messages": [{"role": "user", "content": "hold [[mock:stall=body]]"}]}).encode()
req = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
       b"Content-Length: %d\r\n\r\n" % len(body)) + body
socks = []
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    socks.append(s)
opened = 0
for s in socks:
    s.settimeout(10)
    try:
        if s.recv(4096).startswith(b"HTTP/1.1 200"):
            opened += 1
    except OSError:
        pass
time.sleep(1)
after = rss_kb()
print("idle_streams=%d opened=%d rss_before_kb=%d rss_with_streams_kb=%d per_stream_kb=%.1f"
      % (n, opened, before, after, (after - before) / max(opened, 1)))
for s in socks:
    s.close()
