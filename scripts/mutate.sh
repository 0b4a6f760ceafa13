#!/usr/bin/env bash
# Mutation testing with Stryker, one group of files at a time.
#
#   npm run mutate                 every group, in order (hours on 2 cores)
#   npm run mutate -- notary-x509  one group (names below)
#   npm run mutate -- src/gate/decide.ts   any file or glob
#   npm run mutate -- verify-gate  src/verify and src/gate in one run, starting from the
#                                  groups' incremental files (merged by mutation-merge.mjs)
#
# Why groups: a run over everything reports nothing until it ends. A group ends in
# 10-30 minutes with its survivors, and keeps an incremental file, so the next run of
# that group re-tests only the mutants whose code or covering tests changed.
# Each group's JSON report is kept in reports/mutation/groups/; the scores per file and
# per folder are printed by scripts/mutation-summary.mjs over all of them.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A GROUPS_=(
  [gate]='src/gate/**/*.ts'
  [verify-root]='src/verify/*.ts'
  [notary-x509]='src/verify/notary/x509.ts,src/verify/notary/asn1.ts,src/verify/notary/checks.ts,src/verify/notary/algorithms.ts,src/verify/notary/trust-store.ts'
  [notary-timestamp]='src/verify/notary/timestamp.ts,src/verify/notary/revocation.ts'
  [notary-envelopes]='src/verify/notary/jws.ts,src/verify/notary/cose.ts,src/verify/notary/cbor-strict.ts,src/verify/notary/envelope.ts,src/verify/notary/verifier.ts,src/verify/notary/discovery.ts,src/verify/notary/trust-policy.ts,src/verify/notary/aws-signer.ts,src/verify/notary/notation-cli.ts'
  [cosign-bundles]='src/verify/cosign/bundle-verifier.ts,src/verify/cosign/bundle-discovery.ts,src/verify/cosign/legacy-keyless.ts,src/verify/cosign/trusted-root.ts,src/verify/cosign/statement.ts,src/verify/cosign/identity.ts,src/verify/cosign/signer-policy.ts'
  [cosign-keys]='src/verify/cosign/keys.ts,src/verify/cosign/legacy-key.ts,src/verify/cosign/verifier.ts,src/verify/cosign/factory.ts,src/verify/cosign/attestations.ts,src/verify/cosign/legacy-attestations.ts'
  [registry]='src/registry/**/*.ts,src/policy/overrides.ts'
)
ORDER=(gate verify-root notary-x509 notary-timestamp notary-envelopes cosign-bundles cosign-keys registry)

# The sandbox is .stryker-tmp/sandbox-*/; tests find the shared fixtures at ../shared from
# the project root, so the sandbox needs .stryker-tmp/shared, or the fixture suites skip.
mkdir -p .stryker-tmp reports/mutation/groups reports/mutation/incremental
[ -e ../shared ] && ln -sfn ../../shared .stryker-tmp/shared

run_group() {
  local name=$1 files=$2
  echo "== mutate $name: $files"
  nice -n 10 npx stryker run --mutate "$files" --incremental \
    --incrementalFile "reports/mutation/incremental/$name.json"
  cp reports/mutation/mutation.json "reports/mutation/groups/$name.json"
}

# src/verify and src/gate (the scores issue 9 asks for) in one run: one initial test run
# instead of one per group, and only the mutants whose code or covering tests changed since
# their group's run are tested again.
run_verify_gate() {
  local files=() inc=(reports/mutation/incremental/*.json)
  for g in "${ORDER[@]}"; do [ "$g" != registry ] && files+=("${GROUPS_[$g]}"); done
  [ -e "${inc[0]}" ] && node scripts/mutation-merge.mjs reports/mutation/incremental/verify-gate.json "${inc[@]}"
  run_group verify-gate "$(IFS=,; echo "${files[*]}")"
}

targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${ORDER[@]}")
for t in "${targets[@]}"; do
  if [ "$t" = verify-gate ]; then
    run_verify_gate
  elif [ -n "${GROUPS_[$t]:-}" ]; then
    run_group "$t" "${GROUPS_[$t]}"
  else
    run_group "$(echo "$t" | tr '/*,' '___')" "$t"
  fi
done
node scripts/mutation-summary.mjs reports/mutation/groups/*.json
