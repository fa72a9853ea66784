#!/usr/bin/env bash
# Runs every integration test (python3 stdlib only) against build binaries.
set -euo pipefail
cd "$(dirname "$0")/../.."
export GW_BIN=${GW_BIN:-build/gateway} MOCK_BIN=${MOCK_BIN:-build/mock_provider}
rc=0
for t in tests/integration/test_*.py; do
  echo "== $t"
  python3 "$t" || rc=1
done
if [ -x tests/mock/test_mock.sh ]; then
  echo "== tests/mock/test_mock.sh"
  tests/mock/test_mock.sh "$MOCK_BIN" || rc=1
fi
exit $rc
