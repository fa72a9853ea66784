#!/usr/bin/env bash
# make bench: wrk figures from one run, direct to the mock provider and
# through the gateway, 16 and 64 connections, JSON and SSE, with ratios; then
# the gateway's RSS with 2,000 idle streams open. Extra benches (redaction)
# run when their binaries exist.
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:-build}
DUR=${BENCH_DURATION:-8s}
tmp=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)" || true

key="sk-bench-$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
coproc MOCK { exec "$BUILD/mock_provider" --port 0 --api-key "$key" --no-record 2>/dev/null; }
pids+=("$MOCK_PID")
read -r line <&"${MOCK[0]}"; mport=${line#PORT }
gport=$(python3 -c 'import socket,random
while True:
    p=random.randint(20000,32000); s=socket.socket()
    try: s.bind(("127.0.0.1",p)); print(p); break
    except OSError: pass')
cat > "$tmp/gw.json" <<JSON
{ "listen": {"host": "127.0.0.1", "port": $gport},
  "limits": {"max_connections": 20000},
  "audit": {"path": "$tmp/audit.log"},
  "providers": {"mock": {"type": "openai", "base_url": "http://127.0.0.1:$mport/v1", "api_key_env": "BENCH_KEY"}},
  "models": {"mock-gpt": {"provider": "mock", "model": "mock-gpt"}} }
JSON
BENCH_KEY=$key "$BUILD/gateway" --config "$tmp/gw.json" --log-level error &
gpid=$!; pids+=("$gpid")

# the same gateway with the whole pipeline: gateway-key authentication, role check,
# redaction with the default rules (what a deployment runs)
fport=$((gport + 1))
keyout=$("$BUILD/gateway" keys new --name bench --role bench 2>/dev/null)
gwkey=$(grep -o 'gw_[0-9A-Za-z]*' <<<"$keyout" | head -1)
keyline=$(grep '^{' <<<"$keyout" | head -1)
cat > "$tmp/gwfull.json" <<JSON
{ "listen": {"host": "127.0.0.1", "port": $fport},
  "limits": {"max_connections": 20000},
  "audit": {"path": "$tmp/audit-full.log"},
  "providers": {"mock": {"type": "openai", "base_url": "http://127.0.0.1:$mport/v1", "api_key_env": "BENCH_KEY"}},
  "models": {"mock-gpt": {"provider": "mock", "model": "mock-gpt"}},
  "auth": {"api_keys": [$keyline]},
  "roles": {"bench": {"models": ["mock-*"]}},
  "redaction": {"rules_dir": "$PWD/rules"} }
JSON
BENCH_KEY=$key "$BUILD/gateway" --config "$tmp/gwfull.json" --log-level error &
fpid=$!; pids+=("$fpid")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$gport/healthz" >/dev/null && curl -sf "http://127.0.0.1:$fport/healthz" >/dev/null && break; sleep 0.05; done

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
hz=$(getconf CLK_TCK)
run() { # name url conns stream key pid-of-the-server
  local out t0 t1
  t0=$(cpu_ticks "$6")
  out=$(env STREAM=$4 MOCK_KEY=$5 wrk -t2 -c"$3" -d"$DUR" --latency -s tests/bench/chat.lua "$2" 2>&1)
  t1=$(cpu_ticks "$6")
  local rps p50 p99 errs total cpu
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  total=$(awk '/requests in/ {print $1}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
  cpu=$(awk -v t="$((t1 - t0))" -v hz="$hz" -v n="$total" 'BEGIN{ if (n>0) printf "%.0f", t * 1e6 / hz / n; else print "n/a"}')
  printf '%-8s %-5s c=%-3s rps=%-9s p50=%-8s p99=%-8s server-cpu/req=%sus %s\n' "$1" \
    "$([ "$4" = 1 ] && echo sse || echo json)" "$3" "$rps" "$p50" "$p99" "$cpu" "$errs"
  echo "$rps" > "$tmp/rps_$1_$3_$4"
}
echo "== wrk ($DUR each, 2 threads; wrk, the mock and the gateway share this machine's cores;"
echo "   server-cpu/req = CPU time of the server process (the mock for direct) per request)"
for s in 0 1; do for c in 16 64; do
  run direct "http://127.0.0.1:$mport/v1/chat/completions" $c $s "$key" "$MOCK_PID"
  run gateway "http://127.0.0.1:$gport/v1/chat/completions" $c $s "" "$gpid"
  run gw+full "http://127.0.0.1:$fport/v1/chat/completions" $c $s "$gwkey" "$fpid"
done; done
echo "== ratios to direct (RPS)"
for s in 0 1; do for c in 16 64; do
  d=$(cat "$tmp/rps_direct_${c}_$s"); g=$(cat "$tmp/rps_gateway_${c}_$s"); f=$(cat "$tmp/rps_gw+full_${c}_$s")
  printf '%-6s c=%-3s gateway %s   gateway+auth+redaction %s\n' "$([ $s = 1 ] && echo sse || echo json)" $c \
    "$(awk -v g="$g" -v d="$d" 'BEGIN{ if (d>0) printf "%.2f", g/d; else print "n/a"}')" \
    "$(awk -v g="$f" -v d="$d" 'BEGIN{ if (d>0) printf "%.2f", g/d; else print "n/a"}')"
done; done
echo "== memory"
python3 tests/bench/idle_streams.py "$gport" "$gpid" 2000
for b in "$BUILD"/bench_*; do
  [ -x "$b" ] || continue
  echo "== $b"; "$b"
done
