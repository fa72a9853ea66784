"""Integration test harness: starts the mock provider and the gateway on free
loopback ports, gives tests small HTTP helpers (plain sockets, so the timing of
each arrival is visible), and stops every process at the end."""
import http.client
import json
import os
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time

GW_BIN = os.environ.get("GW_BIN", "build/gateway")
MOCK_BIN = os.environ.get("MOCK_BIN", "build/mock_provider")
MOCK_KEY = "sk-mock-" + "9f3a7c2e5b1d4a6f8e0c2b4d6f8a1c3e"

try:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
except (ValueError, OSError):
    pass

FAILS = []
COUNT = [0]


def check(cond, what):
    COUNT[0] += 1
    if not cond:
        FAILS.append(what)
        print("  FAIL:", what, flush=True)


class Mock:
    def __init__(self, extra=()):
        self.p = subprocess.Popen([MOCK_BIN, "--port", "0", "--api-key", MOCK_KEY, *extra],
                                  stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()
        m = re.match(r"PORT (\d+)", line)
        if not m:
            raise RuntimeError("mock did not start: %r" % line)
        self.port = int(m.group(1))

    def get(self, path):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        return json.loads(body)

    def requests(self):
        return self.get("/_mock/requests")

    def stats(self):
        return self.get("/_mock/stats")

    def reset(self):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("DELETE", "/_mock/requests")
        c.getresponse().read()
        c.close()

    def configure(self, directives, count=-1):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        c.request("POST", "/_mock/config", body=json.dumps({"directives": directives, "count": count}))
        c.getresponse().read()
        c.close()

    def stop(self):
        if self.p.poll() is None:
            self.p.terminate()
            try:
                self.p.wait(5)
            except subprocess.TimeoutExpired:
                self.p.kill()


def free_port():
    """A free port below 32768 (ephemeral ports collide with TIME_WAIT after load)."""
    import random
    for _ in range(200):
        port = random.randint(20000, 32000)
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


class Gateway:
    def __init__(self, config, env=None, tls=False):
        self.dir = tempfile.mkdtemp(prefix="gwtest-")
        self.config_path = os.path.join(self.dir, "gateway.json")
        self.audit_path = os.path.join(self.dir, "audit.log")
        config.setdefault("audit", {"path": self.audit_path})
        self.port = free_port()
        config.setdefault("listen", {})
        config["listen"].update({"host": "127.0.0.1", "port": self.port})
        self.tls = tls
        self.config = config
        self.write_config(config)
        self.log_path = os.path.join(self.dir, "gateway.log")
        self.log = open(self.log_path, "w")
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen([GW_BIN, "--config", self.config_path], stdout=self.log,
                                  stderr=self.log, env=e)
        deadline = time.time() + 20
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.p.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError("gateway did not start: " + open(self.log_path).read())

    def write_config(self, config):
        with open(self.config_path, "w") as f:
            json.dump(config, f, indent=1)

    def request(self, method, path, body=None, headers=None, timeout=30):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            j = json.loads(data)
        except ValueError:
            j = None
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), data, j

    def chat(self, content, model="mock-gpt", stream=False, **kw):
        body = {"model": model, "messages": [{"role": "user", "content": content}]}
        if stream:
            body["stream"] = True
        body.update(kw)
        return self.request("POST", "/v1/chat/completions", body)

    def raw_stream(self, body, read_timeout=30):
        """Send a streamed chat request on a raw socket; return (status line, list of
        (arrival time, bytes) for each recv after the headers, complete text)."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout)
        data = json.dumps(body).encode()
        s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n" % len(data) + data)
        arrivals = []
        buf = b""
        t0 = time.time()
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            arrivals.append((time.time() - t0, chunk))
            buf += chunk
            if buf.endswith(b"0\r\n\r\n"):
                break
        s.close()
        return buf, arrivals

    def audit_lines(self, settle=0.3):
        time.sleep(settle)
        with open(self.audit_path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def logs(self):
        self.log.flush()
        return open(self.log_path).read()

    def signal(self, sig):
        self.p.send_signal(sig)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        log = open(self.log_path).read()
        check(self.p.returncode == 0, "gateway exited 0 (rc %s)" % self.p.returncode)
        check("Sanitizer" not in log and "runtime error" not in log,
              "no sanitizer report in the gateway log:\n" + log[-3000:])


def sse_events(text):
    """Data payloads of an SSE body (chunked framing removed by http.client or raw)."""
    out = []
    for line in text.split("\n"):
        line = line.strip("\r")
        if line.startswith("data: "):
            out.append(line[6:])
    return out


def dechunk(raw):
    """Decode a raw HTTP/1.1 chunked response: returns (head, body bytes)."""
    head, _, rest = raw.partition(b"\r\n\r\n")
    body = b""
    while rest:
        size_line, _, rest = rest.partition(b"\r\n")
        try:
            n = int(size_line.split(b";")[0], 16)
        except ValueError:
            break
        if n == 0:
            break
        body += rest[:n]
        rest = rest[n + 2:]
    return head.decode(), body


def base_config(mock_port, **limits):
    lim = {"upstream_timeout_ms": 2000, "stream_idle_timeout_s": 2, "max_body_bytes": 65536,
           "shutdown_grace_s": 10, "upstream_connect_timeout_ms": 2000}
    lim.update(limits)
    return {
        "limits": lim,
        "providers": {
            "mock": {"type": "openai", "base_url": "http://127.0.0.1:%d/v1" % mock_port,
                     "api_key_env": "MOCK_KEY"},
            "dead": {"type": "openai", "base_url": "http://127.0.0.1:9/v1"},
        },
        "models": {
            "mock-gpt": {"provider": "mock", "model": "gpt-4o-mini-upstream"},
            "dead-model": {"provider": "dead", "model": "x"},
        },
    }


def finish():
    print("%d checks, %d failed" % (COUNT[0], len(FAILS)))
    sys.exit(1 if FAILS else 0)
