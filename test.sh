#!/usr/bin/env bash
# Sets up a Debian machine for the tests and runs them: the one command to test the repo.
#
#   ./test.sh                                   # everything
#   ./test.sh --filter "Category=Unit"          # extra arguments go to `dotnet test`
#
# Installs what the integration tests start themselves (redis-server, prometheus, chromium, the s3rver npm package) and the npm
# client the registry tests drive (tests/SchemaRegistry.Tests/Client/kafkajs) when missing,
# builds Broker.slnx (Release), runs `dotnet test Broker.slnx -c Release --no-build` with TRX results, and ends with one line
# "N passed, N failed, N skipped" summed over all test projects. Exits non-zero when `dotnet test` fails,
# any test fails, or no test ran. TEST_RESULTS_DIR overrides where the .trx files go.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'test.sh: error: %s\n' "$*" >&2; exit 1; }

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  fi
fi

as_root() {
  if [[ "$(id -u)" -ne 0 && ${#SUDO[@]} -eq 0 ]]; then
    die "need root (or sudo) to run: $*"
  fi
  "${SUDO[@]}" "$@"
}

# --- system packages (one apt-get update, only when something is missing) -------------------------------
apt_packages=()
installing_redis=0
if ! command -v redis-server >/dev/null 2>&1; then
  apt_packages+=(redis-server)
  installing_redis=1
fi
if ! command -v s3rver >/dev/null 2>&1 && ! command -v npm >/dev/null 2>&1; then
  apt_packages+=(nodejs npm)
fi
# A real Prometheus scrapes the services in tests/AppHost.Tests.
installing_prometheus=0
if ! command -v prometheus >/dev/null 2>&1; then
  apt_packages+=(prometheus)
  installing_prometheus=1
fi

# A real browser for the dashboard test in tests/AppHost.Tests (Playwright drives Debian's chromium; its own download cannot work here).
if ! command -v chromium >/dev/null 2>&1; then
  apt_packages+=(chromium)
fi

if [[ ${#apt_packages[@]} -gt 0 ]]; then
  command -v apt-get >/dev/null 2>&1 || die "missing ${apt_packages[*]} and apt-get is not available; install them by hand"
  log "installing ${apt_packages[*]} with apt-get"
  as_root apt-get update
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y "${apt_packages[@]}"
fi

if [[ $installing_redis -eq 1 ]]; then
  command -v redis-server >/dev/null 2>&1 || die "redis-server is still not on PATH after apt-get install redis-server"
  # The tests start their own redis-server on free ports; the packaged service is not needed.
  { as_root systemctl stop redis-server || as_root service redis-server stop; } >/dev/null 2>&1 || true
fi

if [[ $installing_prometheus -eq 1 ]]; then
  command -v prometheus >/dev/null 2>&1 || die "prometheus is still not on PATH after apt-get install prometheus"
  # The test starts its own on a free port; the packaged service (and its node exporter) are not needed.
  { as_root systemctl stop prometheus prometheus-node-exporter || as_root service prometheus stop; } >/dev/null 2>&1 || true
fi

# --- s3rver (S3-compatible server for the cold-tier tests) -----------------------------------------------
if ! command -v s3rver >/dev/null 2>&1; then
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH, so s3rver cannot be installed (apt-get install npm)"
  log "installing s3rver with npm install -g s3rver"
  npm_cmd=(npm install -g s3rver)
  if [[ "$(id -u)" -ne 0 && ${#SUDO[@]} -gt 0 && ! -w "$(npm prefix -g)" ]]; then
    npm_cmd=("${SUDO[@]}" "${npm_cmd[@]}")
  fi
  if ! "${npm_cmd[@]}"; then
    die "'npm install -g s3rver' failed (see npm's output above); the S3 integration tests need s3rver on PATH"
  fi
  npm_bin="$(npm prefix -g)/bin"
  if ! command -v s3rver >/dev/null 2>&1 && [[ -x "$npm_bin/s3rver" ]]; then
    export PATH="$npm_bin:$PATH"
  fi
  command -v s3rver >/dev/null 2>&1 || die "s3rver was installed but is not on PATH (looked in $npm_bin)"
fi

# --- the Confluent registry client the registry tests drive (npm, pinned by its package-lock.json) ----------
KAFKAJS_CLIENT="$ROOT/tests/SchemaRegistry.Tests/Client/kafkajs"
if [[ ! -d "$KAFKAJS_CLIENT/node_modules/@kafkajs" ]]; then
  command -v npm >/dev/null 2>&1 || die "npm is not on PATH, so the registry client test cannot be set up (apt-get install npm)"
  log "npm ci in $KAFKAJS_CLIENT (@kafkajs/confluent-schema-registry)"
  (cd "$KAFKAJS_CLIENT" && npm ci --no-audit --no-fund) || die "'npm ci' failed in $KAFKAJS_CLIENT"
fi

command -v dotnet >/dev/null 2>&1 \
  || die "dotnet is not on PATH; install the .NET SDK that global.json pins ($(grep -o '"version": *"[^"]*"' global.json | head -1))"

# --- tests -------------------------------------------------------------------------------------------------
RESULTS_DIR="${TEST_RESULTS_DIR:-$ROOT/artifacts/test-results}"
rm -rf "$RESULTS_DIR"
mkdir -p "$RESULTS_DIR"

log "dotnet build Broker.slnx -c Release"
dotnet build Broker.slnx -c Release -v quiet -nologo || die "the build failed"
log "dotnet test Broker.slnx -c Release --no-build $*"
set +e
# Built first, so the test projects start in the solution's order rather than as each finishes building: AppHost.Tests,
# the longest by far, comes first in Broker.slnx and runs beside all the others instead of after most of them.
# LogFilePrefix (not LogFileName) gives every test project its own .trx file instead of one overwritten file.
dotnet test Broker.slnx -c Release --no-build \
  --logger "trx;LogFilePrefix=results" \
  --logger "console;verbosity=normal" \
  --results-directory "$RESULTS_DIR" \
  "$@"
test_status=$?
set -e

# --- summary -----------------------------------------------------------------------------------------------
passed=0
failed=0
skipped=0
trx_count=0
# One <UnitTestResult ... outcome="..."> element per test (per case of a theory); the XML writer escapes '>'
# inside attribute values, so the element ends at the first '>'.
while IFS= read -r -d '' trx; do
  trx_count=$((trx_count + 1))
  while IFS= read -r outcome; do
    case "$outcome" in
      Passed) passed=$((passed + 1)) ;;
      NotExecuted | Inconclusive | Pending) skipped=$((skipped + 1)) ;;
      *) failed=$((failed + 1)) ;;
    esac
  done < <(grep -o '<UnitTestResult [^>]*>' "$trx" | grep -o ' outcome="[A-Za-z]*"' | cut -d'"' -f2 || true)
done < <(find "$RESULTS_DIR" -name '*.trx' -print0)

status=0
if [[ $test_status -ne 0 ]]; then
  printf 'test.sh: dotnet test exited with %s\n' "$test_status" >&2
  status=1
fi
if [[ $trx_count -eq 0 ]]; then
  printf 'test.sh: no .trx results found in %s\n' "$RESULTS_DIR" >&2
  status=1
fi
if [[ $failed -gt 0 ]]; then
  status=1
fi
if [[ $((passed + failed)) -eq 0 ]]; then
  printf 'test.sh: no test ran\n' >&2
  status=1
fi

printf '%s passed, %s failed, %s skipped\n' "$passed" "$failed" "$skipped"
exit "$status"
