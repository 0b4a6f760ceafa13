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

npx tsc --noEmit
npx vitest run "$@"
