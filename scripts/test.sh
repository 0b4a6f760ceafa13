#!/usr/bin/env bash
# npm test: typecheck, then every test suite. The registry-backed suites need Debian's
# docker-registry (Distribution 2.8); it is installed here when we are root, otherwise
# this stops with the one command that installs it. Nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v docker-registry >/dev/null 2>&1 && [ ! -x /usr/bin/docker-registry ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "npm test: installing docker-registry (needed by the registry tests)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-registry >/dev/null
  else
    echo "npm test: the tests need docker-registry; install it with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y docker-registry" >&2
    exit 1
  fi
fi

# npm puts node_modules/.bin first on PATH, so "node" here is the node@22 devDependency:
# the tests run on the Lambda runtime (nodejs22.x), whatever Node the machine has.
echo "npm test: $(node --version) (Lambda runtime: nodejs22.x)"
npx tsc --noEmit

# vitest's own summary is coloured and framed; finish with one plain line that any CI
# reads ("tests: N passed, N failed, N skipped"), from its JSON report.
report=$(mktemp)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped`);
' "$report" || true
rm -f "$report"
exit "$status"
