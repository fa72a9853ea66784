#!/usr/bin/env python3
"""Score the gateway's redaction engine against a labeled corpus.

usage: eval_corpus.py CORPUS.jsonl [--gateway build/gateway] [--config FILE]
                      [--min-recall 0.98] [--min-recall-checksum 0.995]
                      [--max-fp 0.01] [--max-word-loss 0.002]
                      [--report-only] [--show N] [--alias FROM=TO] [--json OUT]

Corpus lines: {"id","text","entities":[{"type","start","end"}],"negatives":[{"kind","start","end"}]}
(byte offsets into the UTF-8 text; "negatives" optional).

Runs  GATEWAY redact --config FILE --jsonl  once with every item on stdin ({"id","text"} per line)
and reads {"id","text","findings":[{"type","rule","start","end"}]} per line (byte offsets into the
input text).  Measures
  * recall per entity type: an entity is found when findings cover >= 90% of its bytes;
    "typed" counts only findings of the same type, "any" counts findings of every type.
    The targets apply to typed recall.
  * hard-negative false positives: a negative span overlapped by any finding; rate = hit / total.
  * word loss: whitespace-separated words that overlap no labeled entity but overlap a finding,
    divided by all such words.
Targets (exit 1 when missed, unless --report-only):
  overall typed recall >= --min-recall; typed recall of each checksum/structured type
  (CREDIT_CARD, IBAN, classic GITHUB_TOKEN, US_SSN, UK_NINO) >= --min-recall-checksum;
  negative hit rate <= --max-fp; word loss <= --max-word-loss.
Exit 2 when the gateway cannot be run (0 with --report-only).
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter, defaultdict

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
CHECKSUM_TYPES = ["CREDIT_CARD", "IBAN", "GITHUB_TOKEN", "US_SSN", "UK_NINO"]
COVER = 0.90
WORD = re.compile(rb"\S+")


def die(msg, code, report_only):
    print("eval_corpus: " + msg, file=sys.stderr)
    sys.exit(0 if report_only else code)


def load_corpus(path):
    items, bad = [], 0
    with open(path, encoding="utf-8") as f:
        for ln, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            try:
                it = json.loads(line)
            except ValueError as e:
                print("%s:%d: bad JSON (%s), skipped" % (path, ln, e), file=sys.stderr)
                bad += 1
                continue
            if not isinstance(it, dict) or "text" not in it:
                print("%s:%d: no \"text\", skipped" % (path, ln), file=sys.stderr)
                bad += 1
                continue
            it.setdefault("id", "line-%d" % ln)
            it["id"] = str(it["id"])
            it.setdefault("entities", [])
            it.setdefault("negatives", [])
            items.append(it)
    return items, bad


def span_ok(b, s, e):
    if not (isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(b)):
        return False
    # must not split a UTF-8 sequence
    if s < len(b) and 0x80 <= b[s] <= 0xBF:
        return False
    if e < len(b) and 0x80 <= b[e] <= 0xBF:
        return False
    return True


def probe(gw, cfg):
    """run `redact --jsonl` on empty input: returns (ok, message)"""
    try:
        p = subprocess.run([gw, "redact", "--config", cfg, "--jsonl"], input=b"", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=20)
    except subprocess.TimeoutExpired:
        return False, ("`%s redact --jsonl` did not exit on empty input within 20s: this binary probably has no "
                       "redact subcommand yet (it may have started the server instead). Rebuild with `make build/gateway`."
                       % gw)
    except OSError as e:
        return False, "cannot run %s: %s" % (gw, e)
    if p.returncode != 0:
        return False, ("`%s redact --config %s --jsonl` failed (exit %d):\n%s"
                       % (gw, cfg, p.returncode, p.stderr.decode(errors="replace").strip()[-2000:]))
    return True, ""


def default_configs():
    """the redaction section alone, then the same with a dummy provider/model for stricter config loaders"""
    red = {"redaction": {"rules_dir": os.path.join(REPO, "rules")}}
    # a stale binary without `redact` would start the server: keep it off the usual port
    full = dict(red, listen={"host": "127.0.0.1", "port": 40000 + os.getpid() % 20000}, providers={"dummy": {"type": "openai", "base_url": "http://127.0.0.1:9"}},
                models={"dummy": {"provider": "dummy", "model": "dummy"}})
    return [red, full]


def run_gateway(gw, cfg, items, timeout, report_only):
    if not os.path.isfile(gw) or not os.access(gw, os.X_OK):
        die("gateway binary %s not found or not executable; build it with `make build/gateway` in %s" % (gw, REPO),
            2, report_only)
    payload = "".join(json.dumps({"id": it["id"], "text": it["text"]}, ensure_ascii=False) + "\n" for it in items)
    try:
        p = subprocess.run([gw, "redact", "--config", cfg, "--jsonl"], input=payload.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired:
        die("`%s redact --jsonl` timed out after %ss" % (gw, timeout), 2, report_only)
    except OSError as e:
        die("cannot run %s: %s" % (gw, e), 2, report_only)
    err = p.stderr.decode(errors="replace").strip()
    if p.returncode != 0:
        die("`%s redact --config %s --jsonl` failed (exit %d). Is the redact subcommand built and the config valid?\n%s"
            % (gw, cfg, p.returncode, err[-3000:]), 2, report_only)
    out = []
    for ln, line in enumerate(p.stdout.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except ValueError:
            die("gateway output line %d is not JSON: %r" % (ln, line[:200]), 2, report_only)
    if err:
        print("gateway stderr (last lines):\n  " + "\n  ".join(err.splitlines()[-5:]), file=sys.stderr)
    return out


def match_output(items, out, report_only):
    ids = [it["id"] for it in items]
    if len(set(ids)) == len(ids):
        by_id = {}
        for o in out:
            by_id.setdefault(str(o.get("id")), o)
        missing = [i for i in ids if i not in by_id]
        if missing:
            if len(out) == len(items):
                print("warning: %d ids not echoed, matching by line order" % len(missing), file=sys.stderr)
                return out
            die("gateway returned no result for %d items (e.g. %s)" % (len(missing), missing[:3]), 2, report_only)
        return [by_id[i] for i in ids]
    if len(out) != len(items):
        die("duplicate ids in corpus and %d results for %d items" % (len(out), len(items)), 2, report_only)
    return out


def merge(spans):
    spans = sorted(spans)
    res = []
    for s, e in spans:
        if res and s <= res[-1][1]:
            res[-1][1] = max(res[-1][1], e)
        else:
            res.append([s, e])
    return res


def covered(merged, s, e):
    c = 0
    for a, b in merged:
        if b <= s:
            continue
        if a >= e:
            break
        c += min(b, e) - max(a, s)
    return c


def overlaps(spans, s, e):
    return any(a < e and s < b for a, b in spans)


def snippet(b, s, e, ctx=30):
    pre = b[max(0, s - ctx):s].decode("utf-8", "replace")
    val = b[s:e].decode("utf-8", "replace")
    post = b[e:e + ctx].decode("utf-8", "replace")
    if len(val) > 80:
        val = val[:60] + "…" + val[-15:]
    return (pre + "[[" + val + "]]" + post).replace("\n", "⏎")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("corpus")
    ap.add_argument("--gateway", default=os.path.join(REPO, "build", "gateway"))
    ap.add_argument("--config", help="gateway JSON config (default: a temporary one with rules_dir=%s/rules)" % REPO)
    ap.add_argument("--min-recall", type=float, default=0.98)
    ap.add_argument("--min-recall-checksum", type=float, default=0.995)
    ap.add_argument("--max-fp", type=float, default=0.01)
    ap.add_argument("--max-word-loss", type=float, default=0.002)
    ap.add_argument("--report-only", action="store_true", help="always exit 0")
    ap.add_argument("--show", type=int, default=0, metavar="N", help="print up to N examples per problem class")
    ap.add_argument("--alias", action="append", default=[], metavar="FROM=TO",
                    help="treat finding type FROM as TO (e.g. GITHUB_PAT=GITHUB_TOKEN)")
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON")
    a = ap.parse_args()

    items, bad_lines = load_corpus(a.corpus)
    if not items:
        die("no items in %s" % a.corpus, 2, a.report_only)
    alias = dict(x.split("=", 1) for x in a.alias)

    if not os.path.isfile(a.gateway) or not os.access(a.gateway, os.X_OK):
        die("gateway binary %s not found or not executable; build it with `make build/gateway` in %s"
            % (a.gateway, REPO), 2, a.report_only)
    tmp = None
    try:
        if a.config:
            cfg = a.config
            ok, msg = probe(a.gateway, cfg)
        else:
            for conf in default_configs():
                if tmp:
                    os.unlink(tmp.name)
                tmp = tempfile.NamedTemporaryFile("w", suffix=".json", delete=False)
                json.dump(conf, tmp)
                tmp.close()
                cfg = tmp.name
                ok, msg = probe(a.gateway, cfg)
                if ok or "did not exit" in msg:
                    break
        if not ok:
            die(msg, 2, a.report_only)
        out = run_gateway(a.gateway, cfg, items, a.timeout, a.report_only)
    finally:
        if tmp:
            os.unlink(tmp.name)
    out = match_output(items, out, a.report_only)

    n_ent, f_typed, f_any = Counter(), Counter(), Counter()
    gh_classic = [0, 0]
    confusion = Counter()
    neg_n, neg_hit, neg_by_type = Counter(), Counter(), Counter()
    words_plain = words_lost = 0
    stray = Counter()
    bad_spans = bad_findings = 0
    ex_miss, ex_fp, ex_word = [], [], []
    found_types = Counter()

    for it, o in zip(items, out):
        b = it["text"].encode("utf-8")
        fnd = []
        for f in o.get("findings") or []:
            s, e, t = f.get("start"), f.get("end"), f.get("type")
            if not (isinstance(s, int) and isinstance(e, int) and 0 <= s < e <= len(b)):
                bad_findings += 1
                continue
            t = alias.get(t, t)
            found_types[t] += 1
            fnd.append((s, e, t))
        all_m = merge([(s, e) for s, e, _ in fnd])
        by_t = defaultdict(list)
        for s, e, t in fnd:
            by_t[t].append((s, e))
        by_t = {t: merge(v) for t, v in by_t.items()}

        ents = []
        for x in it["entities"]:
            s, e, t = x.get("start"), x.get("end"), x.get("type")
            if not span_ok(b, s, e) or not t:
                bad_spans += 1
                continue
            ents.append((s, e, t))
            ln = e - s
            n_ent[t] += 1
            typed = covered(by_t.get(t, []), s, e) >= COVER * ln
            anyt = covered(all_m, s, e) >= COVER * ln
            f_typed[t] += typed
            f_any[t] += anyt
            if t == "GITHUB_TOKEN" and not b[s:e].startswith(b"github_pat_"):
                gh_classic[0] += 1
                gh_classic[1] += typed
            if anyt and not typed:
                others = sorted({ft for fs, fe, ft in fnd if fs < e and s < fe})
                confusion[(t, "/".join(others))] += 1
            if not typed and len(ex_miss) < a.show * 4:
                ex_miss.append((t, "any" if anyt else "none", it["id"], snippet(b, s, e)))
        ent_spans = [(s, e) for s, e, _ in ents]
        for s, e, t in fnd:
            if not overlaps(ent_spans, s, e):
                stray[t] += 1

        for x in it.get("negatives") or []:
            s, e, k = x.get("start"), x.get("end"), x.get("kind") or x.get("type") or "?"
            if not span_ok(b, s, e):
                bad_spans += 1
                continue
            neg_n[k] += 1
            hits = [ft for fs, fe, ft in fnd if fs < e and s < fe]
            if hits:
                neg_hit[k] += 1
                for ft in set(hits):
                    neg_by_type[ft] += 1
                if len(ex_fp) < a.show * 2:
                    ex_fp.append((k, "/".join(sorted(set(hits))), it["id"], snippet(b, s, e)))

        for m in WORD.finditer(b):
            s, e = m.start(), m.end()
            if overlaps(ent_spans, s, e):
                continue
            words_plain += 1
            if covered(all_m, s, e) > 0:
                words_lost += 1
                if len(ex_word) < a.show:
                    ex_word.append((it["id"], snippet(b, s, e, 20)))

    # ---------------------------------------------------------------- report
    fails = []
    print("corpus %s: %d items, %d entities, %d negatives%s" % (
        a.corpus, len(items), sum(n_ent.values()), sum(neg_n.values()),
        (", %d unreadable lines" % bad_lines) if bad_lines else ""))
    if bad_spans or bad_findings:
        print("warning: %d labeled spans and %d findings with invalid byte offsets were ignored" % (bad_spans, bad_findings))
    print()
    print("%-22s %6s %8s %8s %7s  %s" % ("entity type", "n", "typed", "any", "missed", "target"))
    rows = []
    for t in sorted(n_ent):
        tgt = a.min_recall_checksum if t in CHECKSUM_TYPES and t != "GITHUB_TOKEN" else None
        rt, ra = f_typed[t] / n_ent[t], f_any[t] / n_ent[t]
        flag = ""
        if tgt is not None:
            ok = rt >= tgt
            flag = ">=%.3f %s" % (tgt, "ok" if ok else "FAIL")
            if not ok:
                fails.append("%s typed recall %.4f < %.3f" % (t, rt, tgt))
        elif rt < a.min_recall:
            flag = "(below %.2f)" % a.min_recall
        print("%-22s %6d %8.4f %8.4f %7d  %s" % (t, n_ent[t], rt, ra, n_ent[t] - f_typed[t], flag))
        rows.append({"type": t, "n": n_ent[t], "typed": rt, "any": ra})
    if gh_classic[0]:
        rt = gh_classic[1] / gh_classic[0]
        ok = rt >= a.min_recall_checksum
        print("%-22s %6d %8.4f %8s %7d  >=%.3f %s" % ("  GITHUB_TOKEN classic", gh_classic[0], rt, "", gh_classic[0] - gh_classic[1],
                                                     a.min_recall_checksum, "ok" if ok else "FAIL"))
        if not ok:
            fails.append("GITHUB_TOKEN (classic) typed recall %.4f < %.3f" % (rt, a.min_recall_checksum))
    tot, tt, ta = sum(n_ent.values()), sum(f_typed.values()), sum(f_any.values())
    overall = tt / tot if tot else 1.0
    print("%-22s %6d %8.4f %8.4f %7d  >=%.2f %s" % ("ALL", tot, overall, ta / tot if tot else 1.0, tot - tt,
                                                   a.min_recall, "ok" if overall >= a.min_recall else "FAIL"))
    if overall < a.min_recall:
        fails.append("overall typed recall %.4f < %.2f" % (overall, a.min_recall))
    cs_n = sum(n_ent[t] for t in CHECKSUM_TYPES if t != "GITHUB_TOKEN") + gh_classic[0]
    cs_f = sum(f_typed[t] for t in CHECKSUM_TYPES if t != "GITHUB_TOKEN") + gh_classic[1]
    if cs_n:
        print("%-22s %6d %8.4f" % ("checksum/structured", cs_n, cs_f / cs_n))
    if confusion:
        print("\nfound under another type (entity -> finding types): " +
              ", ".join("%s->%s %d" % (k[0], k[1], v) for k, v in confusion.most_common(12)))

    print()
    nn, nh = sum(neg_n.values()), sum(neg_hit.values())
    fp = nh / nn if nn else 0.0
    print("%-22s %6s %6s %8s" % ("hard negative kind", "n", "hit", "rate"))
    for k in sorted(neg_n):
        print("%-22s %6d %6d %8.4f" % (k, neg_n[k], neg_hit[k], neg_hit[k] / neg_n[k]))
    print("%-22s %6d %6d %8.4f  <=%.3f %s" % ("ALL", nn, nh, fp, a.max_fp, "ok" if fp <= a.max_fp else "FAIL"))
    if neg_by_type:
        print("negatives hit by finding type: " + ", ".join("%s %d" % kv for kv in neg_by_type.most_common()))
    if fp > a.max_fp:
        fails.append("hard-negative FP rate %.4f > %.3f" % (fp, a.max_fp))

    wl = words_lost / words_plain if words_plain else 0.0
    print("\nplain words (outside labeled entities): %d, altered: %d, word loss %.5f  <=%.4f %s"
          % (words_plain, words_lost, wl, a.max_word_loss, "ok" if wl <= a.max_word_loss else "FAIL"))
    if wl > a.max_word_loss:
        fails.append("word loss %.5f > %.4f" % (wl, a.max_word_loss))
    if stray:
        print("findings outside any labeled entity, by type: " + ", ".join("%s %d" % kv for kv in stray.most_common()))
    unknown = sorted(set(found_types) - set(n_ent))
    if unknown:
        print("finding types not labeled in this corpus: " + ", ".join("%s(%d)" % (t, found_types[t]) for t in unknown))

    if a.show:
        if ex_miss:
            print("\nmissed entities (type, found-as, id, context):")
            for x in ex_miss:
                print("  %-18s %-4s %-10s %s" % x)
        if ex_fp:
            print("\nhard negatives hit (kind, by, id, context):")
            for x in ex_fp:
                print("  %-12s %-16s %-10s %s" % x)
        if ex_word:
            print("\naltered plain words (id, context):")
            for x in ex_word:
                print("  %-10s %s" % x)

    if a.json:
        with open(a.json, "w") as f:
            json.dump({"corpus": a.corpus, "items": len(items), "types": rows, "overall_typed": overall,
                       "overall_any": ta / tot if tot else 1.0,
                       "github_classic": gh_classic, "negatives": {k: [neg_n[k], neg_hit[k]] for k in sorted(neg_n)},
                       "fp_rate": fp, "plain_words": words_plain, "words_lost": words_lost, "word_loss": wl,
                       "fails": fails}, f, indent=1)

    print()
    if fails:
        print("FAIL: " + "; ".join(fails))
        sys.exit(0 if a.report_only else 1)
    print("PASS: all targets met")


if __name__ == "__main__":
    main()
