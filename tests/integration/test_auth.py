"""Identity and access end to end: JWT and gateway keys through the gateway,
role allowlists (403 and /v1/models filtering), 401 that tells a forger
nothing, audit identity without tokens, HTTPS and mTLS with curl against the
certificates of certs/make-certs.sh."""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(__file__))
from gwtest import GW_BIN, MOCK_KEY, Gateway, Mock, base_config, check, finish

ENV = {"MOCK_KEY": MOCK_KEY}
CERTS = tempfile.mkdtemp(prefix="gwcerts-")
subprocess.run(["certs/make-certs.sh", CERTS], check=True, stdout=subprocess.DEVNULL)


def token(*args, key="jwt-rsa.key", alg="RS256"):
    r = subprocess.run([GW_BIN, "token", "--key", os.path.join(CERTS, key), "--alg", alg, "--kid", "dev-rs",
                        "--iss", "gateway-dev", "--aud", "gateway", *args],
                       capture_output=True, text=True, check=True)
    return r.stdout.strip().splitlines()[-1].strip()


def new_key(name, role):
    r = subprocess.run([GW_BIN, "keys", "new", "--name", name, "--role", role],
                       capture_output=True, text=True, check=True)
    out = r.stdout
    key = next(w for w in out.split() if w.startswith("gw_"))
    line = next(l for l in out.splitlines() if l.strip().startswith("{"))
    return key, json.loads(line)


def auth_config(mock_port, api_key_entry, tls=None):
    cfg = base_config(mock_port)
    cfg["models"] = {
        "gpt-4o-mini": {"provider": "mock", "model": "gpt-4o-mini"},
        "o1-admin-only": {"provider": "mock", "model": "o1"},
    }
    cfg["auth"] = {
        "jwt": {"issuer": "gateway-dev", "audience": "gateway", "leeway_s": 60,
                "claims": {"subject": "sub", "roles": ["roles", "realm_access.roles"], "team": "team"},
                "keys": [{"kid": "dev-rs", "alg": "RS256", "pem_file": os.path.join(CERTS, "jwt-rsa.pub")}]},
        "api_keys": [api_key_entry],
        "mtls": {"subject": "CN", "roles": "OU", "team": "O"},
    }
    cfg["roles"] = {
        "analyst": {"models": ["gpt-4o*"], "endpoints": ["chat", "embeddings", "models"],
                    "stream": True, "max_tokens": 1000},
        "admin": {"models": ["*"]},
    }
    if tls:
        cfg["listen"] = {"host": "127.0.0.1", "port": 0, "tls": tls}
    return cfg


def test_jwt_and_roles(mock):
    print("JWT, API keys, roles")
    key, entry = new_key("batch-job", "analyst")
    gw = Gateway(auth_config(mock.port, entry), env=ENV)
    try:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        st, h, raw, j = gw.request("POST", "/v1/chat/completions", body)
        check(st == 401 and h.get("www-authenticate", "").startswith("Bearer"), "no credential -> 401 + WWW-Authenticate")
        generic = j["error"]["message"] if j else None
        analyst = token("--sub", "alice", "--role", "analyst")
        admin = token("--sub", "root", "--role", "admin")
        forged = analyst[:-4] + ("AAAA" if not analyst.endswith("AAAA") else "BBBB")
        other_key = token("--sub", "alice", "--role", "analyst", key="jwt-ec.key", alg="ES256")
        for name, tok in (("forged", forged), ("other key", other_key), ("garbage", "abc.def")):
            st, h, raw, j = gw.request("POST", "/v1/chat/completions", body, {"Authorization": "Bearer " + tok})
            check(st == 401 and j and j["error"]["message"] == generic, "%s token -> same generic 401" % name)
        st, h, raw, j = gw.request("POST", "/v1/chat/completions", body, {"Authorization": "Bearer " + analyst})
        check(st == 200 and j["choices"][0]["message"]["content"] == "Echo: hi", "analyst may use gpt-4o-mini")
        fwd = json.loads(mock.requests()[-1]["body"])
        check(fwd.get("max_tokens") == 1000, "role's max_tokens cap applied when absent")
        st, h, raw, j = gw.request("POST", "/v1/chat/completions", dict(body, max_tokens=5000),
                                   {"Authorization": "Bearer " + analyst})
        check(st == 400 and j["error"]["code"] == "max_tokens_over_cap", "max_tokens above cap refused")
        st, h, raw, j = gw.request("POST", "/v1/chat/completions", dict(body, model="o1-admin-only"),
                                   {"Authorization": "Bearer " + analyst})
        check(st == 403 and j["error"]["code"] == "model_not_allowed", "analyst -> 403 for admin model")
        st, h, raw, j = gw.request("GET", "/v1/models", None, {"Authorization": "Bearer " + analyst})
        ids = [m["id"] for m in j["data"]] if j else []
        check(st == 200 and ids == ["gpt-4o-mini"], "analyst's /v1/models hides admin model (%s)" % ids)
        st, h, raw, j = gw.request("GET", "/v1/models", None, {"Authorization": "Bearer " + admin})
        check(st == 200 and len(j["data"]) == 2, "admin sees every model")
        st, h, raw, j = gw.request("POST", "/v1/chat/completions", dict(body, model="o1-admin-only"),
                                   {"Authorization": "Bearer " + admin})
        check(st == 200, "admin may use admin model")
        st, h, raw, j = gw.request("POST", "/v1/chat/completions", body, {"Authorization": "Bearer " + key})
        check(st == 200, "gateway API key accepted")
        st, h, raw, j = gw.request("POST", "/v1/chat/completions", body, {"Authorization": "Bearer " + key[:-1] + "x"})
        check(st == 401, "wrong API key -> 401")
        st, h, raw, j = gw.request("GET", "/healthz")
        check(st == 200, "healthz needs no credential")
        lines = gw.audit_lines()
        text = open(gw.audit_path).read()
        check(analyst not in text and key not in text and analyst.split(".")[2] not in text,
              "no token or key in the audit log")
        check(any(l.get("subject") == "alice" and l.get("roles") == ["analyst"] and l.get("auth") == "jwt"
                  for l in lines), "audit carries subject, roles, method")
        check(any(l.get("status") == 401 and l.get("auth_error") for l in lines), "audit carries the 401 reason")
        check(any(l.get("policy_denied") == "model_not_allowed" for l in lines), "audit carries the 403 reason")
        check(any(l.get("auth") == "api_key" and l.get("key_id") == "batch-job" for l in lines),
              "audit carries the API key id")
    finally:
        gw.stop()


def curl(*args):
    return subprocess.run(["curl", "-s", "-o", "/dev/stdout", "-w", "\n%{http_code}", *args],
                          capture_output=True, text=True)


def test_tls(mock):
    print("HTTPS and mTLS")
    key, entry = new_key("k", "analyst")
    tls = {"cert_file": os.path.join(CERTS, "server.crt"), "key_file": os.path.join(CERTS, "server.key")}
    cfg = auth_config(mock.port, entry, tls)
    gw = Gateway(cfg, env=ENV, tls=True)
    try:
        url = "https://localhost:%d" % gw.port
        r = curl("--cacert", os.path.join(CERTS, "ca.crt"), url + "/healthz")
        check(r.stdout.endswith("\n200"), "HTTPS healthz with the dev CA (%r)" % r.stdout[-50:])
        r = curl(url + "/healthz")
        check(r.returncode != 0, "untrusted server certificate is refused by curl")
        body = json.dumps({"model": "gpt-4o-mini", "stream": True,
                           "messages": [{"role": "user", "content": "tls stream"}]})
        r = curl("--cacert", os.path.join(CERTS, "ca.crt"), "-H", "Authorization: Bearer " + key,
                 "-H", "Content-Type: application/json", "-d", body, url + "/v1/chat/completions")
        check("[DONE]" in r.stdout and r.stdout.endswith("\n200"), "SSE over HTTPS")
    finally:
        gw.stop()
    tls = dict(tls, client_ca_file=os.path.join(CERTS, "ca.crt"), client_cert="require")
    gw = Gateway(auth_config(mock.port, entry, tls), env=ENV, tls=True)
    try:
        url = "https://localhost:%d" % gw.port
        body = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "mtls"}]})
        base = ["--cacert", os.path.join(CERTS, "ca.crt"), "-H", "Content-Type: application/json", "-d", body]
        r = curl(*base, url + "/v1/chat/completions")
        check(not r.stdout.endswith("\n200"), "mTLS required: no client certificate -> refused")
        r = curl(*base, "--cert", os.path.join(CERTS, "client.crt"), "--key", os.path.join(CERTS, "client.key"),
                 url + "/v1/chat/completions")
        check(r.stdout.endswith("\n200") and "Echo: mtls" in r.stdout, "client certificate -> identity -> 200 (%r)" % r.stdout[-200:])
        lines = gw.audit_lines()
        check(any(l.get("auth") == "mtls" and l.get("subject") == "alice" for l in lines), "audit: mtls subject alice")
    finally:
        gw.stop()


def main():
    mock = Mock()
    try:
        test_jwt_and_roles(mock)
        test_tls(mock)
    finally:
        mock.stop()
    finish()


if __name__ == "__main__":
    main()
