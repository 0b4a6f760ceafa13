#!/usr/bin/env bash
# npm test: typecheck, then every test suite. Debian packages the suites need are installed
# here when we are root; otherwise this stops with the one command that installs them.
# Nothing is skipped silently.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the suites need: docker-registry (the real registry) and chromium (the
# audit HTML report is rendered and checked in headless Chromium).
missing=()
command -v docker-registry >/dev/null 2>&1 || [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "npm test: installing ${missing[*]} (needed by the tests)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "npm test: the tests need ${missing[*]}; install with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
fi

# npm puts node_modules/.bin first on PATH, so "node" here is the node@22 devDependency:
# the tests run on the Lambda runtime (nodejs22.x), whatever Node the machine has.
echo "npm test: $(node --version) (Lambda runtime: nodejs22.x)"
npx tsc --noEmit
node scripts/check-imports.mjs
# lint and format (Biome; biome.json): "npm run format" rewrites what this refuses
npx biome check --max-diagnostics=20

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
