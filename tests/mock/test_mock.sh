#!/usr/bin/env bash
# test_mock.sh: end-to-end checks of the mock OpenAI provider (tests/mock/).
# Usage: tests/mock/test_mock.sh [path/to/mock_provider]   (default build/mock_provider)
# Starts the mock on port 0, exercises every endpoint and directive with curl and
# tests/mock/mock_client.py, holds 2,000 concurrent streams, then stops it with SIGTERM.
# Exits non-zero if any check fails.
set -u

BIN=${1:-build/mock_provider}
HERE=$(cd "$(dirname "$0")" && pwd)
CLIENT="$HERE/mock_client.py"
TMP=$(mktemp -d)
KEY=sk-mock-test-key
PASS=0
FAIL=0
MOCK_PID=
BG_PIDS=()

cleanup() {
    local p
    for p in "${BG_PIDS[@]}"; do
        kill "$p" 2>/dev/null
    done
    if [ -n "$MOCK_PID" ] && kill -0 "$MOCK_PID" 2>/dev/null; then
        kill -TERM "$MOCK_PID"
        wait "$MOCK_PID" 2>/dev/null
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

pass() { PASS=$((PASS + 1)); }
fail() {
    FAIL=$((FAIL + 1))
    echo "FAIL: $*" >&2
}
# check DESCRIPTION COMMAND...: the command must succeed.
check() {
    local desc=$1
    shift
    if "$@"; then pass; else fail "$desc"; fi
}
# eq DESCRIPTION EXPECTED ACTUAL
eq() {
    if [ "$2" = "$3" ]; then pass; else fail "$1: expected '$2', got '$3'"; fi
}
# pyj FILE EXPR: EXPR (python, d = parsed JSON of FILE) must be true.
pyj() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if eval(sys.argv[2]) else 1)' "$1" "$2" 2>/dev/null
}
# pyv FILE EXPR: print EXPR evaluated on the parsed JSON of FILE.
pyv() {
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" 2>/dev/null
}
# chat TEXT [STREAM] [INCLUDE_USAGE]: a chat request body with a system and a user message.
chat() {
    python3 -c '
import json, sys
b = {"model": "mock-gpt", "messages": [{"role": "system", "content": "be brief"},
                                       {"role": "user", "content": sys.argv[1]}]}
if sys.argv[2] == "1":
    b["stream"] = True
if sys.argv[3] == "1":
    b["stream_options"] = {"include_usage": True}
print(json.dumps(b))' "$1" "${2:-0}" "${3:-0}"
}
# req NAME [CURL ARGS...]: curl with the API key; keeps NAME.body, NAME.hdr, NAME.code, NAME.rc.
req() {
    local n=$1
    shift
    curl -s -o "$TMP/$n.body" -D "$TMP/$n.hdr" -w '%{http_code}' \
        -H "Authorization: Bearer $KEY" "$@" >"$TMP/$n.code"
    echo $? >"$TMP/$n.rc"
}
code() { cat "$TMP/$1.code"; }
rc() { cat "$TMP/$1.rc"; }
hdr() { tr -d '\r' <"$TMP/$1.hdr" | awk -v h="$2" 'tolower($0) ~ "^" tolower(h) ":" {sub(/^[^:]*: */, ""); print}'; }
# wait_for SECONDS COMMAND...: retry the command every 0.1 s.
wait_for() {
    local end=$((SECONDS + $1))
    shift
    while ! "$@"; do
        [ $SECONDS -ge $end ] && return 1
        sleep 0.1
    done
}
stats() { curl -s "$URL/_mock/stats" >"$TMP/stats.json"; }
stat_is() { stats && pyj "$TMP/stats.json" "$1"; }

# ---- start -------------------------------------------------------------------------------
[ -x "$BIN" ] || { echo "no executable $BIN" >&2; exit 1; }
"$BIN" --port 0 --api-key "$KEY" --quiet >"$TMP/out" 2>"$TMP/err" &
MOCK_PID=$!
wait_for 10 grep -q '^PORT [0-9]' "$TMP/out" || { echo "mock did not start" >&2; cat "$TMP/err" >&2; exit 1; }
PORT=$(awk '/^PORT/{print $2; exit}' "$TMP/out")
URL=http://127.0.0.1:$PORT
eq "exactly one PORT line" 1 "$(grep -c . "$TMP/out")"
CHAT="$URL/v1/chat/completions"

# ---- auth ---------------------------------------------------------------------------------
curl -s -o "$TMP/noauth.body" -w '%{http_code}' "$URL/v1/models" >"$TMP/noauth.code"
eq "missing key is 401" 401 "$(code noauth)"
check "401 envelope" pyj "$TMP/noauth.body" 'd["error"]["code"]=="invalid_api_key" and d["error"]["type"]=="invalid_request_error" and d["error"]["param"] is None and d["error"]["message"].startswith("Incorrect API key provided")'
curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer wrong' "$URL/v1/models" >"$TMP/badauth.code"
eq "wrong key is 401" 401 "$(code badauth)"

# ---- models, embeddings, errors -------------------------------------------------------------
req models "$URL/v1/models"
eq "models 200" 200 "$(code models)"
check "models list" pyj "$TMP/models.body" 'd["object"]=="list" and d["data"][0]["id"]=="mock-gpt" and all(m["object"]=="model" and "created" in m and m["owned_by"]=="mock" for m in d["data"])'

req emb -H 'Content-Type: application/json' -d '{"model":"text-embedding-3-small","input":["alpha","beta"]}' "$URL/v1/embeddings"
eq "embeddings 200" 200 "$(code emb)"
check "embeddings shape" pyj "$TMP/emb.body" 'd["object"]=="list" and d["model"]=="text-embedding-3-small" and [x["index"] for x in d["data"]]==[0,1] and all(x["object"]=="embedding" and len(x["embedding"])==8 and all(isinstance(f,float) for f in x["embedding"]) for x in d["data"]) and d["usage"]["prompt_tokens"]==d["usage"]["total_tokens"]>0'
req emb2 -d '{"model":"m","input":"alpha"}' "$URL/v1/embeddings"
check "embeddings deterministic" python3 -c 'import json,sys; a=json.load(open(sys.argv[1])); b=json.load(open(sys.argv[2])); sys.exit(0 if a["data"][0]["embedding"]==b["data"][0]["embedding"] and a["data"][0]["embedding"]!=a["data"][1]["embedding"] else 1)' "$TMP/emb.body" "$TMP/emb2.body"

req unknown "$URL/v1/nope"
eq "unknown path 404" 404 "$(code unknown)"
check "404 envelope" pyj "$TMP/unknown.body" 'd["error"]["type"]=="invalid_request_error" and "Invalid URL" in d["error"]["message"]'
req badjson -d '{"model":' "$CHAT"
eq "malformed request JSON 400" 400 "$(code badjson)"
check "400 envelope" pyj "$TMP/badjson.body" 'd["error"]["type"]=="invalid_request_error" and "parse the JSON" in d["error"]["message"]'

# ---- chat, non-stream ------------------------------------------------------------------------
req chat1 -H 'Content-Type: application/json' -d "$(chat 'hello world')" "$CHAT"
eq "chat 200" 200 "$(code chat1)"
check "chat.completion object" pyj "$TMP/chat1.body" 'd["id"].startswith("chatcmpl-mock") and d["object"]=="chat.completion" and d["model"]=="mock-gpt" and isinstance(d["created"],int) and "system_fingerprint" in d and d["choices"][0]=={"index":0,"message":{"role":"assistant","content":"Echo: hello world","refusal":None,"annotations":[]},"logprobs":None,"finish_reason":"stop"} and d["usage"]["total_tokens"]==d["usage"]["prompt_tokens"]+d["usage"]["completion_tokens"]'
eq "chat content-type" "application/json" "$(hdr chat1 Content-Type)"
req parts -d '{"model":"m","messages":[{"role":"user","content":"old"},{"role":"assistant","content":"x"},{"role":"user","content":[{"type":"text","text":"part one"},{"type":"image_url","image_url":{"url":"data:,"}},{"type":"text","text":"part two"}]}]}' "$CHAT"
check "content parts echoed" pyj "$TMP/parts.body" 'd["choices"][0]["message"]["content"]=="Echo: part one\npart two"'

# ---- chat, stream ---------------------------------------------------------------------------
python3 "$CLIENT" sse "$PORT" "$(chat 'stream me please' 1 1)" "Authorization: Bearer $KEY" >"$TMP/s1.json"
check "stream content-type" pyj "$TMP/s1.json" 'd["status"]==200 and d["content_type"].startswith("text/event-stream")'
check "stream events (role, 3 content, stop, usage, DONE)" pyj "$TMP/s1.json" '
[e[1] for e in d["events"]][-1]=="[DONE]" and len(d["events"])==7 and (lambda c: c[0]["choices"][0]["delta"]=={"role":"assistant","content":"","refusal":None} and all(x["object"]=="chat.completion.chunk" and x["id"]==c[0]["id"] for x in c) and "".join(x["choices"][0]["delta"]["content"] for x in c[1:4])=="Echo: stream me please" and c[4]["choices"][0]["delta"]=={} and c[4]["choices"][0]["finish_reason"]=="stop" and c[5]["choices"]==[] and c[5]["usage"]["total_tokens"]>0 and all(x["usage"] is None for x in c[:5]))([json.loads(e[1]) for e in d["events"][:-1]])'
python3 "$CLIENT" sse "$PORT" "$(chat 'no usage' 1)" "Authorization: Bearer $KEY" "X-Mock: events=5" >"$TMP/s2.json"
check "events=5 gives 5 content events, no usage chunk" pyj "$TMP/s2.json" 'len(d["events"])==8 and all("usage" not in json.loads(e[1]) for e in d["events"][:-1])'

# gap timing: 4 content events 150 ms apart.
python3 "$CLIENT" sse "$PORT" "$(chat 'timed [[mock:gap_ms=150;events=4]]' 1)" "Authorization: Bearer $KEY" >"$TMP/gap.json"
check "gap_ms respected (each content event 150 ms after the previous)" pyj "$TMP/gap.json" '
(lambda t: len(t)==7 and t[0]<0.1 and all(0.12<=t[i]-t[i-1]<=0.4 for i in range(1,5)) and t[-1]<1.5)([e[0] for e in d["events"]])'

# ---- failure directives ----------------------------------------------------------------------
req r429 -H 'X-Mock: status=429;retry_after=2' -d "$(chat hi)" "$CHAT"
eq "status=429" 429 "$(code r429)"
eq "Retry-After" 2 "$(hdr r429 Retry-After)"
check "429 body" pyj "$TMP/r429.body" 'd["error"]["type"]=="requests" and d["error"]["code"]=="rate_limit_exceeded" and d["error"]["param"] is None'
req r500 -d "$(chat 'x [[mock:status=500]]')" "$CHAT"
eq "status=500 via message text" 500 "$(code r500)"
check "500 body" pyj "$TMP/r500.body" 'd["error"]["type"]=="server_error"'
req r503 -H 'X-Mock: status=503' -d "$(chat hi 1)" "$CHAT"
eq "status=503 on a stream request" 503 "$(code r503)"
check "503 body" pyj "$TMP/r503.body" 'd["error"]["type"]=="server_error" and "overloaded" in d["error"]["message"]'
req r400 -H 'X-Mock: status=400' "$URL/v1/models"
eq "status=400" 400 "$(code r400)"
check "400 body" pyj "$TMP/r400.body" 'd["error"]["type"]=="invalid_request_error"'

start=$(date +%s%N)
req delay -H 'X-Mock: delay_ms=400' "$URL/v1/models"
elapsed=$((($(date +%s%N) - start) / 1000000))
eq "delay_ms 200" 200 "$(code delay)"
check "delay_ms=400 took >= 400 ms ($elapsed)" test "$elapsed" -ge 400 -a "$elapsed" -lt 2000

req content -d "$(chat 'x [[mock:content=a%3Bb%5D%5Dc]]')" "$CHAT"
check "content= with %XX escapes" pyj "$TMP/content.body" 'd["choices"][0]["message"]["content"]=="a;b]]c"'

req mal -H 'X-Mock: malformed=1' -d "$(chat hi)" "$CHAT"
eq "malformed=1 status" 200 "$(code mal)"
eq "malformed=1 content-type" application/json "$(hdr mal Content-Type)"
check "malformed=1 body is not JSON" test "$(python3 -c 'import json,sys
try: json.load(open(sys.argv[1])); print("json")
except ValueError: print("bad")' "$TMP/mal.body")" = bad
python3 "$CLIENT" sse "$PORT" "$(chat 'x [[mock:malformed=1]]' 1)" "Authorization: Bearer $KEY" >"$TMP/mals.json"
if python3 - "$TMP/mals.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
bad = 0
for _, s in d["events"]:
    if s == "[DONE]":
        continue
    try:
        json.loads(s)
    except ValueError:
        bad += 1
sys.exit(0 if bad == 1 and d["events"][-1][1] == "[DONE]" else 1)
EOF
then pass; else fail "malformed=1 stream: exactly one non-JSON event"; fi

req dropb -H 'X-Mock: drop=before' -d "$(chat hi)" "$CHAT"
eq "drop=before: empty reply (curl 52)" 52 "$(rc dropb)"
req dropm -H 'X-Mock: drop=mid' -d "$(chat hi)" "$CHAT"
eq "drop=mid non-stream: curl 18" 18 "$(rc dropm)"
req dropms -N -H 'X-Mock: drop=mid' -d "$(chat hi 1)" "$CHAT"
eq "drop=mid stream: curl 18" 18 "$(rc dropms)"
eq "drop=mid stream: 2 events before the cut" 2 "$(grep -c '^data: ' "$TMP/dropms.body")"

req stallh --max-time 1 -H 'X-Mock: stall=headers' -d "$(chat hi)" "$CHAT"
eq "stall=headers: curl times out (28)" 28 "$(rc stallh)"
eq "stall=headers: no status line" 000 "$(code stallh)"
req stallb -N --max-time 1 -d "$(chat 'x [[mock:stall=body]]' 1)" "$CHAT"
eq "stall=body: curl times out (28)" 28 "$(rc stallb)"
eq "stall=body: status 200" 200 "$(code stallb)"
eq "stall=body: exactly the first event" 1 "$(grep -c '^data: ' "$TMP/stallb.body")"

# ---- per-run config -------------------------------------------------------------------------
curl -s -o /dev/null -X POST -d '{"directives":"status=500","count":2}' "$URL/_mock/config"
req run1 "$URL/v1/models"
req run2 -H 'X-Mock: status=200' "$URL/v1/models"
req run3 "$URL/v1/models"
req run4 "$URL/v1/models"
eq "per-run: first request" 500 "$(code run1)"
eq "per-run: header overrides" 200 "$(code run2)"
eq "per-run: count consumed" 200 "$(code run3)"
curl -s -o /dev/null -X POST -d '{"directives":"status=503"}' "$URL/_mock/config"
req run5 "$URL/v1/models"
req run6 "$URL/v1/models"
curl -s -o /dev/null -X POST -d '{"directives":""}' "$URL/_mock/config"
req run7 "$URL/v1/models"
eq "per-run until changed (1)" 503 "$(code run5)"
eq "per-run until changed (2)" 503 "$(code run6)"
eq "per-run cleared" 200 "$(code run7)"
curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"directives":"bogus=1"}' "$URL/_mock/config" >"$TMP/badcfg.code"
eq "bad per-run directive rejected" 400 "$(code badcfg)"

# ---- recording and stats ---------------------------------------------------------------------
# The clients of the stall tests above have left; wait until the mock has noticed.
wait_for 3 stat_is 'd["active"]==0' || fail "stalled requests still active"
curl -s -X DELETE "$URL/_mock/requests" >/dev/null
printf '{"model":"mock-gpt","messages":[{"role":"user","content":"rec\\u00e9 \\"q\\""}]}' >"$TMP/recbody"
req rec -H 'X-Test-Header: abc' -H 'Content-Type: application/json' --data-binary @"$TMP/recbody" "$CHAT?api-version=1"
curl -s "$URL/_mock/requests" >"$TMP/recs.json"
check "one record after reset" pyj "$TMP/recs.json" 'len(d)==1'
check "record fields" pyj "$TMP/recs.json" 'd[0]["method"]=="POST" and d[0]["path"]=="/v1/chat/completions" and d[0]["headers"]["x-test-header"]=="abc" and d[0]["headers"]["authorization"]=="Bearer '"$KEY"'" and d[0]["query"]=={"api-version":"1"} and d[0]["completed"] is True and d[0]["aborted"] is False and d[0]["status"]==200 and isinstance(d[0]["seq"],int)'
check "record body is the exact bytes" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if d[0]["body"].encode()==open(sys.argv[2],"rb").read() else 1)' "$TMP/recs.json" "$TMP/recbody"
curl -s "$URL/_mock/requests" >/dev/null
check "admin requests are not recorded" pyj "$TMP/recs.json" 'len(d)==1'
check "stats after reset" stat_is 'd=={"requests":1,"active":0,"aborted":0,"max_concurrent":1}'

# client disconnects mid-stream: gap 300 ms, curl gives up after 0.5 s.
curl -s -N --max-time 0.5 -H "Authorization: Bearer $KEY" -d "$(chat 'bye [[mock:gap_ms=300;events=10]]' 1)" "$CHAT" >/dev/null
check "aborted counter after mid-stream disconnect" wait_for 3 stat_is 'd["aborted"]==1 and d["active"]==0'
curl -s "$URL/_mock/requests" >"$TMP/recs2.json"
check "aborted record" pyj "$TMP/recs2.json" 'd[-1]["aborted"] is True and d[-1]["completed"] is True'
# the stall=headers client above went away too: detected while suspended
curl -s -N --max-time 0.5 -H "Authorization: Bearer $KEY" -H 'X-Mock: stall=headers' -d "$(chat hi)" "$CHAT" >/dev/null
check "aborted counter after leaving a stalled request" wait_for 3 stat_is 'd["aborted"]==2 and d["active"]==0'

# ---- 2,000 concurrent streams -----------------------------------------------------------------
curl -s -X DELETE "$URL/_mock/requests" >/dev/null
python3 "$CLIENT" flood "$PORT" 2000 500 4 "$KEY" >"$TMP/flood.json"
check "2000 concurrent streams complete ($(cat "$TMP/flood.json"))" pyj "$TMP/flood.json" 'd["ok"]==2000 and d["failed"]==0'
check "max_concurrent >= 2000 ($(stats; cat "$TMP/stats.json"))" stat_is 'd["max_concurrent"]>=2000 and d["requests"]==2000 and d["active"]==0'

# ---- clean exit with suspended connections ---------------------------------------------------
curl -s -H "Authorization: Bearer $KEY" -H 'X-Mock: stall=headers' -d "$(chat hi)" "$CHAT" >/dev/null &
BG_PIDS+=($!)
curl -s -N -H "Authorization: Bearer $KEY" -d "$(chat 'x [[mock:gap_ms=5000]]' 1)" "$CHAT" >/dev/null &
BG_PIDS+=($!)
wait_for 3 stat_is 'd["active"]==2' || fail "background requests not active"
kill -TERM "$MOCK_PID"
if wait_for 5 eval '! kill -0 '"$MOCK_PID"' 2>/dev/null'; then
    wait "$MOCK_PID"
    eq "exit status after SIGTERM" 0 $?
else
    fail "mock did not exit within 5 s of SIGTERM"
fi
MOCK_PID=
if grep -q 'ERROR: \|runtime error\|ThreadSanitizer' "$TMP/err"; then
    fail "sanitizer output:"
    cat "$TMP/err" >&2
fi

echo "test_mock: $PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
