"""Redaction end to end: what the mock provider receives contains no planted
value, the client gets pseudonymized values restored (JSON and SSE, with
placeholders split across events), a block rule refuses the request before it
leaves, and the audit line counts findings without values."""
import json
import os
import socket
import sys

sys.path.insert(0, os.path.dirname(__file__))
from gwtest import MOCK_KEY, Gateway, Mock, base_config, check, dechunk, finish, sse_events

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ENV = {"MOCK_KEY": MOCK_KEY, "GATEWAY_REDACT_KEY": "k" * 40}

EMAIL = "marie.dupont@example-mail.fr"
EMAIL2 = "j.smith@contoso.co.uk"
CARD = "4111 1111 1111 1111"
IBAN = "DE89 3704 0044 0532 0130 00"
AWS = "AKIAQ4ZKXWJ3NB7RT2LM"
PHONE = "+49 30 12345678"
PLANTED = [EMAIL, EMAIL2, CARD, IBAN, AWS, PHONE, "4111111111111111", "DE89370400440532013000"]


def config(mock_port, actions=None):
    cfg = base_config(mock_port)
    cfg["redaction"] = {"rules_dir": os.path.join(ROOT, "rules"),
                        "actions": actions or {"EMAIL": "pseudonymize", "CREDIT_CARD": "mask",
                                               "IBAN": "mask", "PRIVATE_KEY": "block"}}
    return cfg


def upstream_text(mock):
    return "\n".join(r["body"] for r in mock.requests())


def test_json(gw, mock):
    print("JSON: nothing planted reaches the provider; pseudonyms come back")
    mock.reset()
    body = {"model": "mock-gpt", "messages": [
        {"role": "system", "content": "Support agent. Escalations go to " + EMAIL2},
        {"role": "user", "content": [{"type": "text", "text": "My card " + CARD + " and IBAN " + IBAN}]},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": {
            "name": "lookup", "arguments": json.dumps({"email": EMAIL, "phone": PHONE})}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "aws_access_key_id=" + AWS},
        {"role": "user", "content": "Please write to " + EMAIL + " today."}]}
    st, h, raw, j = gw.request("POST", "/v1/chat/completions", body)
    check(st == 200, "redacted chat 200 (%d %s)" % (st, raw[:200]))
    up = upstream_text(mock)
    for v in PLANTED:
        check(v not in up, "planted value absent upstream: %s" % v[:6])
    fwd = json.loads(mock.requests()[-1]["body"]) if mock.requests() else {}
    check(isinstance(fwd.get("messages"), list) and len(fwd["messages"]) == 5, "forwarded body is valid JSON, same shape")
    check("<EMAIL_" in up, "e-mail pseudonymized upstream")
    check("[CREDIT_CARD]" in up and "[IBAN]" in up, "card and IBAN masked upstream")
    content = j["choices"][0]["message"]["content"] if j else ""
    check(content == "Echo: Please write to " + EMAIL + " today.", "client got the real e-mail back (%r)" % content)
    lines = gw.audit_lines()
    last = lines[-1]
    red = last.get("redaction", {})
    check(red.get("EMAIL", 0) >= 2 and red.get("CREDIT_CARD") == 1 and red.get("IBAN") == 1,
          "audit counts per type (%s)" % red)
    text = open(gw.audit_path).read()
    check(all(v not in text for v in PLANTED), "no value in the audit log")


def test_stream(gw, mock):
    print("SSE: placeholders split across events are restored")
    mock.reset()
    msg = "Contact " + EMAIL + " or " + EMAIL2 + " [[mock:events=9;gap_ms=20]]"
    body = {"model": "mock-gpt", "stream": True, "messages": [{"role": "user", "content": msg}]}
    raw, arrivals = gw.raw_stream(body)
    head, payload = dechunk(raw)
    ev = sse_events(payload.decode())
    check(ev and ev[-1] == "[DONE]", "stream ends with [DONE]")
    text = "".join((json.loads(e)["choices"][0]["delta"].get("content") or "")
                   for e in ev if e != "[DONE]" and json.loads(e).get("choices"))
    check(EMAIL in text and EMAIL2 in text, "both e-mails restored in the stream (%r)" % text[:120])
    check("<EMAIL_" not in text, "no placeholder left in the stream")
    up = upstream_text(mock)
    check(EMAIL not in up and EMAIL2 not in up, "stream request redacted upstream")


def test_block_and_embeddings(gw, mock):
    print("block rule and embeddings")
    mock.reset()
    pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7bq98Ks0qM7xQ3fPz1v2c3HkZr1PZ2r0j8Yv9nH2q1bC3dE4\n" \
          "fG5hI6jK7lM8nO9pQ0rS1tU2vW3xY4zA5bC6dE7fG8hI9jK0lM1nO2pQ3rS4tU5v\n-----END RSA PRIVATE KEY-----"
    st, h, raw, j = gw.chat("deploy with this key:\n" + pem)
    check(st == 400 and j and j["error"]["code"] == "content_blocked", "private key blocked (%d)" % st)
    check("MIIE" not in (raw.decode(errors="replace")), "block message carries no value")
    check(len(mock.requests()) == 0, "blocked request never reached the provider")
    st, h, raw, j = gw.request("POST", "/v1/embeddings", {"model": "mock-gpt", "input": ["mail " + EMAIL, "iban " + IBAN]})
    check(st == 200, "embeddings 200")
    up = upstream_text(mock)
    check(EMAIL not in up and IBAN not in up, "embeddings input redacted")
    lines = gw.audit_lines()
    check(any(l.get("blocked") and l.get("status") == 400 for l in lines), "audit records the block")


def test_bad_rules(mock):
    print("a bad rules dir is refused with file and line")
    import subprocess, tempfile
    from gwtest import GW_BIN
    d = tempfile.mkdtemp()
    with open(os.path.join(d, "bad.rules"), "w") as f:
        f.write("[broken]\ntype = EMAIL\naction = mask\npattern = (unclosed\n")
    cfg = config(mock.port)
    cfg["redaction"]["rules_dir"] = d
    p = os.path.join(d, "gw.json")
    with open(p, "w") as f:
        json.dump(cfg, f)
    r = subprocess.run([GW_BIN, "check-config", "--config", p], capture_output=True, text=True,
                       env=dict(os.environ, **ENV))
    check(r.returncode == 1 and "bad.rules:" in r.stderr, "bad rule reported with file:line (%r)" % r.stderr[-300:])


def main():
    mock = Mock()
    gw = Gateway(config(mock.port), env=ENV)
    try:
        test_json(gw, mock)
        test_stream(gw, mock)
        test_block_and_embeddings(gw, mock)
    finally:
        gw.stop()
    test_bad_rules(mock)
    mock.stop()
    finish()


if __name__ == "__main__":
    main()
