# sam build (template.yaml: Metadata BuildMethod: makefile) runs `make build-<LogicalId>`
# for each function, in a copy of this folder (or in it, with build_in_source, as
# samconfig.toml sets), with ARTIFACTS_DIR set to that function's output folder.
# Each target bundles the handler with the project's own esbuild (node_modules, from
# `npm ci`) exactly as scripts/bundle.mjs says: no global esbuild, no npm install in
# a scratch copy. The output, all of it written to $(ARTIFACTS_DIR), is an entry ES
# module NAME.mjs (Handler: NAME.handler) plus chunks/*.mjs, which the entry imports
# when an invocation first needs them (verifier families, rarely used SDK clients).

# The Node that `npm ci` installs (the node@22 devDependency, the Lambda runtime), else PATH's.
NODE ?= $(if $(wildcard node_modules/.bin/node),node_modules/.bin/node,node)

.PHONY: build-ImageGateHookFunction build-TaskWatchdogFunction check-dependencies

build-ImageGateHookFunction: check-dependencies
	$(NODE) scripts/build.mjs handler lifecycle-hook "$(ARTIFACTS_DIR)"

build-TaskWatchdogFunction: check-dependencies
	$(NODE) scripts/build.mjs handler task-state-change "$(ARTIFACTS_DIR)"

check-dependencies:
	@test -n "$(ARTIFACTS_DIR)" || { echo "ARTIFACTS_DIR is not set: run sam build, or make build-<LogicalId> ARTIFACTS_DIR=DIR" >&2; exit 2; }
	@test -d node_modules/esbuild || { echo "node_modules/esbuild is missing: run npm ci first (sam build bundles with the project's esbuild)" >&2; exit 2; }
