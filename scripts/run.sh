#!/usr/bin/env bash
# `make run`: start the gateway with examples/gateway.json. Without
# OPENAI_API_KEY in the environment, the bundled mock provider is started too
# and the example models are routed to it (OPENAI_BASE_URL), so the README's
# curl commands get real answers offline.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
CONFIG=${GATEWAY_CONFIG:-examples/gateway.json}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

if [ -z "${OPENAI_API_KEY:-}" ]; then
  key="sk-mock-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  coproc MOCK { exec "$BUILD/mock_provider" --port 0 --api-key "$key"; }
  pids+=("$MOCK_PID")
  read -r line <&"${MOCK[0]}"
  port=${line#PORT }
  export OPENAI_API_KEY="$key" OPENAI_BASE_URL="http://127.0.0.1:$port/v1"
  echo "run: no OPENAI_API_KEY set: the example models go to the bundled mock provider at $OPENAI_BASE_URL"
else
  echo "run: OPENAI_API_KEY is set: the example models go to ${OPENAI_BASE_URL:-https://api.openai.com/v1}"
fi

# development key material and a token for the README's curl examples
certs/make-certs.sh >/dev/null
"$BUILD/gateway" token --sub dev-user --role analyst --ttl 12h --key certs/dev/jwt-rsa.key \
  > "$BUILD/dev-token"
echo "run: development token (role analyst, 12h) in $BUILD/dev-token:"
cat "$BUILD/dev-token"
cat <<'TXT'
run: try it (in another terminal):
  curl -s http://127.0.0.1:8080/v1/chat/completions -H "Authorization: Bearer $(cat build/dev-token)" \
    -H 'Content-Type: application/json' \
    -d '{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Hello!"}]}'
TXT
"$BUILD/gateway" --config "$CONFIG" &
pids+=("$!")
wait "${pids[-1]}"
