#!/usr/bin/env python3
"""Build tests/corpus/corpus.jsonl from the hand-written sources in tests/corpus/src/.

Source format (see README.md):
  === <id> <lang> <kind>        starts an item; the text runs to the next header
  [[TYPE:value]]                a labeled entity (value written out)
  [[!KIND:value]]               a hard negative: nothing may be found there
  @fn(args)                     inside a value: a generated value (checksums right)

Output: one JSON object per line:
  {"id", "lang", "kind", "text", "entities":[{"type","start","end"}],
   "negatives":[{"kind","start","end"}]}
Offsets are bytes of the UTF-8 text. Generation is seeded: the output is stable.
"""
import base64
import binascii
import hashlib
import json
import os
import random
import re
import string
import sys
import uuid

R = random.Random(20240517)
B62 = string.digits + string.ascii_uppercase + string.ascii_lowercase
ALNUM = string.ascii_letters + string.digits


def rnd(alphabet, n):
    return "".join(R.choice(alphabet) for _ in range(n))


def luhn_digit(body):
    total = 0
    for i, ch in enumerate(reversed(body)):
        v = int(ch)
        if i % 2 == 0:
            v *= 2
            if v > 9:
                v -= 9
        total += v
    return str((10 - total % 10) % 10)


CARD_PREFIX = {
    "visa": (["4"], 16), "visa13": (["4"], 13), "mc": (["51", "52", "53", "54", "55"], 16),
    "mc2": (["2221", "2300", "2500", "2720", "2601"], 16), "amex": (["34", "37"], 15),
    "discover": (["6011", "65", "644"], 16), "jcb": (["3528", "3566", "3589"], 16),
    "diners": (["36", "300", "305"], 14), "unionpay": (["62"], 16),
}


def fmt_card(num, fmt):
    n = len(num)
    if fmt == "compact":
        return num
    sep = " " if fmt == "space" else "-"
    if n == 15:
        groups = [num[:4], num[4:10], num[10:]]
    elif n == 14:
        groups = [num[:4], num[4:10], num[10:]]
    else:
        groups = [num[i:i + 4] for i in range(0, n, 4)]
    return sep.join(groups)


def card(brand="visa", fmt="space", bad=False):
    prefixes, n = CARD_PREFIX[brand]
    p = R.choice(prefixes)
    body = p + rnd(string.digits, n - 1 - len(p))
    chk = luhn_digit(body)
    if bad:
        chk = str((int(chk) + R.randint(1, 9)) % 10)
    return fmt_card(body + chk, fmt)


# country: (length, BBAN template: n digit, a upper letter, c alnum)
IBAN_FMT = {
    "DE": "18n", "AT": "16n", "CH": "5n12c", "FR": "10n11c2n", "ES": "20n", "IT": "1a10n12c",
    "NL": "4a10n", "BE": "12n", "GB": "4a14n", "IE": "4a14n", "PT": "21n", "PL": "24n",
    "LU": "3n13c", "DK": "14n", "SE": "20n", "FI": "14n", "NO": "11n", "CZ": "20n",
    "GR": "7n16c", "HR": "17n", "MT": "4a5n18c", "RO": "4a16c", "HU": "24n", "SK": "20n",
    "SI": "15n", "LT": "16n", "LV": "4a13c", "EE": "16n", "CY": "8n16c", "IS": "22n",
    "LI": "5n12c", "MC": "10n11c2n", "SA": "2n18c", "AE": "3n16n", "TR": "5n1n16c",
    "BR": "8n10n1a1c", "IL": "19n", "GI": "4a15c", "BG": "4a6n8c",
}
SPECS = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}


def iban_check(cc, bban):
    s = bban + cc + "00"
    num = "".join(str(int(ch, 36)) for ch in s)
    return "%02d" % (98 - int(num) % 97)


def iban(cc="DE", fmt="space", bad=False):
    bban = ""
    for cnt, kind in re.findall(r"(\d+)([nac])", IBAN_FMT[cc]):
        bban += rnd(SPECS[kind], int(cnt))
    chk = iban_check(cc, bban)
    if bad:
        chk = "%02d" % ((int(chk) + R.randint(1, 90)) % 97 or 11)
        if chk == iban_check(cc, bban):
            chk = "%02d" % ((int(chk) + 1) % 97)
    s = cc + chk + bban
    if fmt == "compact":
        return s
    if fmt == "lower":
        return " ".join(s[i:i + 4] for i in range(0, len(s), 4)).lower()
    sep = " " if fmt == "space" else "-"
    return sep.join(s[i:i + 4] for i in range(0, len(s), 4))


def b62(n, width=6):
    out = ""
    while n:
        n, r = divmod(n, 62)
        out = B62[r] + out
    return out.rjust(width, "0")


def ghp(prefix="ghp"):
    body = rnd(ALNUM, 30)
    return "%s_%s%s" % (prefix, body, b62(binascii.crc32(body.encode())))


def github_pat():
    return "github_pat_11" + rnd(string.ascii_uppercase + string.digits, 20) + "_" + rnd(ALNUM, 59)


def akia(prefix="AKIA"):
    return prefix + rnd(string.ascii_uppercase + "234567", 16)


def awssecret():
    while True:
        s = rnd(ALNUM + "/+", 40)
        if any(c.isupper() for c in s) and any(c.islower() for c in s) and any(c.isdigit() for c in s):
            return s


def b64url(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def jwt(alg="HS256"):
    hdr = b64url(json.dumps({"alg": alg, "typ": "JWT"}, separators=(",", ":")).encode())
    sub = R.choice(["user_%d" % R.randint(1000, 99999), str(R.randint(10**9, 10**10))])
    payload = {"sub": sub, "iat": R.randint(1690000000, 1720000000)}
    if R.random() < 0.5:
        payload["exp"] = payload["iat"] + 3600
    if R.random() < 0.4:
        payload["role"] = R.choice(["admin", "user", "editor"])
    pl = b64url(json.dumps(payload, separators=(",", ":")).encode())
    sig = b64url(bytes(R.getrandbits(8) for _ in range(32 if alg.startswith("HS") else 256)))
    return "%s.%s.%s" % (hdr, pl, sig)


PEM_KINDS = {"rsa": "RSA PRIVATE KEY", "ec": "EC PRIVATE KEY", "pkcs8": "PRIVATE KEY",
             "openssh": "OPENSSH PRIVATE KEY", "enc": "ENCRYPTED PRIVATE KEY", "dsa": "DSA PRIVATE KEY"}


def pem_lines(kind):
    nlines = {"rsa": 12, "ec": 3, "pkcs8": 10, "openssh": 7, "enc": 11, "dsa": 8}[kind]
    body = base64.b64encode(bytes(R.getrandbits(8) for _ in range(48 * nlines + R.randint(0, 40)))).decode()
    lines = [body[i:i + 64] for i in range(0, len(body), 64)]
    name = PEM_KINDS[kind]
    return ["-----BEGIN %s-----" % name] + lines + ["-----END %s-----" % name]


def pem(kind="rsa"):
    return "\n".join(pem_lines(kind))


def pem_json(kind="rsa"):
    return "\\n".join(pem_lines(kind))


def slack(kind="xoxb"):
    if kind == "xoxb":
        return "xoxb-%d-%d-%s" % (R.randint(10**11, 10**12 - 1), R.randint(10**12, 10**13 - 1), rnd(ALNUM, 24))
    if kind == "xoxp":
        return "xoxp-%d-%d-%d-%s" % (R.randint(10**11, 10**12 - 1), R.randint(10**11, 10**12 - 1),
                                     R.randint(10**12, 10**13 - 1), rnd(string.hexdigits.lower()[:16], 32))
    if kind == "xapp":
        return "xapp-1-A%s-%d-%s" % (rnd(string.ascii_uppercase + string.digits, 10), R.randint(10**12, 10**13 - 1),
                                     rnd("0123456789abcdef", 64))
    raise ValueError(kind)


def slack_webhook():
    return "https://hooks.slack.com/services/T%s/B%s/%s" % (
        rnd(string.ascii_uppercase + string.digits, 8), rnd(string.ascii_uppercase + string.digits, 10), rnd(ALNUM, 24))


def stripe(prefix="sk_live"):
    return prefix + "_" + rnd(ALNUM, R.choice([24, 34, 99]))


def gapi():
    return "AIza" + rnd(ALNUM + "_-", 35)


def openai(kind="proj"):
    if kind == "legacy":
        return "sk-" + rnd(ALNUM, 20) + "T3BlbkFJ" + rnd(ALNUM, 20)
    return "sk-%s-%s" % (kind, rnd(ALNUM + "_-", 74) + "T3BlbkFJ" + rnd(ALNUM + "_-", 74))


def anthropic():
    return "sk-ant-api03-" + rnd(ALNUM + "_-", 93) + "AA"


def glpat(prefix="glpat"):
    return prefix + "-" + rnd(ALNUM + "_-", 20)


def ssn():
    while True:
        a = R.randint(1, 899)
        if a != 666:
            return "%03d-%02d-%04d" % (a, R.randint(1, 99), R.randint(1, 9999))


def sha1():
    return hashlib.sha1(bytes(R.getrandbits(8) for _ in range(16))).hexdigest()


def sha256():
    return hashlib.sha256(bytes(R.getrandbits(8) for _ in range(16))).hexdigest()


def md5():
    return hashlib.md5(bytes(R.getrandbits(8) for _ in range(16))).hexdigest()


def uuid4():
    return str(uuid.UUID(int=R.getrandbits(128), version=4))


GEN = {
    "card": lambda *a: card(*(a or ("visa",))),
    "card_bad": lambda brand="visa", fmt="space": card(brand, fmt, bad=True),
    "iban": lambda *a: iban(*(a or ("DE",))),
    "iban_bad": lambda cc="DE", fmt="space": iban(cc, fmt, bad=True),
    "ghp": ghp, "github_pat": github_pat, "akia": akia, "awssecret": awssecret, "jwt": jwt,
    "pem": pem, "pem_json": pem_json, "slack": slack, "slack_webhook": slack_webhook,
    "stripe": stripe, "gapi": gapi, "openai": openai, "anthropic": anthropic, "glpat": glpat,
    "ssn": ssn, "sha1": sha1, "sha256": sha256, "md5": md5, "uuid": uuid4,
}

GEN_RE = re.compile(r"@([a-z_0-9]+)\(([^()]*)\)")
MARK_RE = re.compile(r"\[\[(!?)([A-Z_0-9]+):(.*?)\]\]", re.S)


def expand(value):
    def one(m):
        fn = GEN[m.group(1)]
        args = [a.strip() for a in m.group(2).split(",") if a.strip()]
        return fn(*args)
    return GEN_RE.sub(one, value)


def parse_item(body):
    out = bytearray()
    ents, negs = [], []
    pos = 0
    for m in MARK_RE.finditer(body):
        out += body[pos:m.start()].encode()
        val = expand(m.group(3)).encode()
        start = len(out)
        out += val
        rec = (m.group(2), start, len(out))
        (negs if m.group(1) else ents).append(rec)
        pos = m.end()
    out += body[pos:].encode()
    text = out.decode()
    if re.search(r"\[\[!?[A-Z_0-9]+:", text):
        raise ValueError("unbalanced markup")
    return text, ents, negs


def main():
    """build_corpus.py [--out FILE] [SOURCE.txt ...]: default src/*.txt -> corpus.jsonl.
    Naming sources builds a separate labeled file (e.g. a held-out set kept outside src/)."""
    here = os.path.dirname(os.path.abspath(__file__))
    args = sys.argv[1:]
    out_path = os.path.join(here, "corpus.jsonl")
    if len(args) >= 2 and args[0] == "--out":
        out_path = args[1]
        args = args[2:]
    src = os.path.join(here, "src")
    paths = args or [os.path.join(src, n) for n in sorted(os.listdir(src)) if n.endswith(".txt")]
    items = []
    seen = set()
    for path in paths:
        name = os.path.basename(path)
        cur = None
        lines = open(path, encoding="utf-8").read().split("\n")
        blocks = []
        for ln in lines:
            if ln.startswith("=== "):
                if cur is not None:
                    blocks.append(cur)
                cur = [ln[4:].split(), []]
            elif cur is not None:
                cur[1].append(ln)
        if cur is not None:
            blocks.append(cur)
        for hdr, body in blocks:
            while body and body[-1] == "":
                body.pop()
            iid, lang, kind = hdr[0], hdr[1], hdr[2]
            if iid in seen:
                sys.exit("duplicate id %s in %s" % (iid, name))
            seen.add(iid)
            try:
                text, ents, negs = parse_item("\n".join(body))
            except (ValueError, KeyError, TypeError) as e:
                sys.exit("%s: item %s: %s" % (name, iid, e))
            items.append({"id": iid, "lang": lang, "kind": kind, "text": text,
                          "entities": [{"type": t, "start": s, "end": e} for t, s, e in ents],
                          "negatives": [{"kind": t, "start": s, "end": e} for t, s, e in negs]})
    with open(out_path, "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    ne = sum(len(i["entities"]) for i in items)
    nn = sum(len(i["negatives"]) for i in items)
    print("%d items, %d entities, %d hard negatives" % (len(items), ne, nn))


if __name__ == "__main__":
    main()
