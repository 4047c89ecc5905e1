#!/usr/bin/env bash
# The system benchmark of Storage's append path, in one command:
#
#   bench/storage-append.sh                                   # 200000 records of 1 KiB, batches of 100
#   bench/storage-append.sh --batch 10 --concurrency 32       # extra arguments go to Broker.LoadGen
#   STORAGE_ENV="DOTNET_gcServer=0" bench/storage-append.sh   # environment for Storage alone
#
# Starts a fresh redis-server on a free loopback port (no AOF, no RDB, in a temp dir), builds and starts
# Broker.Storage (Release) against it on free ports, waits for /health to answer Healthy, runs
# bench/Broker.LoadGen (Release), which measures the baseline (pipelined XADD of the same records, the
# pattern of Dapr's pubsub.redis) and Storage's gRPC Append on the same Redis in the same run, and prints
# its one JSON line on stdout. Everything else (build output, progress) goes to stderr. Storage and
# redis-server are stopped on exit, whatever happens.
#
# The processes share this machine's cores (2 on the project's machines): redis-server, Storage and the
# load generator compete, which is part of what is measured. The JSON line reports the cores each used.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'storage-append.sh: error: %s\n' "$*" >&2; exit 1; }

command -v redis-server >/dev/null 2>&1 || die "redis-server is not on PATH (apt-get install redis-server)"
command -v redis-cli >/dev/null 2>&1 || die "redis-cli is not on PATH (apt-get install redis-tools)"
command -v dotnet >/dev/null 2>&1 || die "dotnet is not on PATH"
command -v curl >/dev/null 2>&1 || die "curl is not on PATH"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/storage-append.XXXXXX")"
REDIS_PID=""
STORAGE_PID=""

cleanup() {
  local status=$?
  for pid in "$STORAGE_PID" "$REDIS_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
  done
  for pid in "$STORAGE_PID" "$REDIS_PID"; do
    if [[ -n "$pid" ]]; then
      # Give each a few seconds to stop on SIGTERM, then make sure.
      for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
      kill -9 "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [[ $status -ne 0 ]]; then
    for f in storage.log redis.log; do
      if [[ -s "$WORK/$f" ]]; then
        printf -- '--- last lines of %s ---\n' "$f" >&2
        tail -n 40 "$WORK/$f" >&2
      fi
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A loopback port nothing listens on (nothing answers a connect), not one already picked in this run.
PICKED=" "
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    [[ "$PICKED" == *" $port "* ]] && continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      PICKED+="$port "
      echo "$port"
      return 0
    fi
  done
  die "found no free loopback port"
}

REDIS_PORT="$(free_port)"
HTTP_PORT="$(free_port)"
GRPC_PORT="$(free_port)"

# --- build (both Release; the output is stderr's, stdout carries only the JSON line) ---------------------
log "dotnet build -c Release Broker.Storage, bench/Broker.LoadGen"
dotnet build -c Release -nologo -v quiet Broker.Storage/Broker.Storage.csproj >&2
dotnet build -c Release -nologo -v quiet bench/Broker.LoadGen/Broker.LoadGen.csproj >&2
STORAGE_DIR="$ROOT/artifacts/bin/Broker.Storage/release"
LOADGEN_DLL="$ROOT/artifacts/bin/Broker.LoadGen/release/Broker.LoadGen.dll"
[[ -f "$STORAGE_DIR/Broker.Storage.dll" ]] || die "no $STORAGE_DIR/Broker.Storage.dll after the build"
[[ -f "$LOADGEN_DLL" ]] || die "no $LOADGEN_DLL after the build"

# --- redis-server ------------------------------------------------------------------------------------------
log "redis-server on 127.0.0.1:$REDIS_PORT (no persistence, dir $WORK)"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" --daemonize no >/dev/null 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do
  [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null || true)" == "PONG" ]] && break
  kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited at start"
  sleep 0.1
done
[[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null || true)" == "PONG" ]] || die "redis-server did not answer PING"

# --- Broker.Storage ------------------------------------------------------------------------------------------
# Started from its output folder so its appsettings.json is the content root's; the endpoints' protocols are
# set here too so the gRPC endpoint is h2c whatever that file says.
log "Broker.Storage: REST http://127.0.0.1:$HTTP_PORT, gRPC http://127.0.0.1:$GRPC_PORT"
(
  cd "$STORAGE_DIR"
  export ConnectionStrings__redis="127.0.0.1:$REDIS_PORT"
  export Kestrel__Endpoints__Http__Url="http://127.0.0.1:$HTTP_PORT"
  export Kestrel__Endpoints__Http__Protocols="Http1"
  export Kestrel__Endpoints__Grpc__Url="http://127.0.0.1:$GRPC_PORT"
  export Kestrel__Endpoints__Grpc__Protocols="Http2"
  export Logging__LogLevel__Default="Warning"
  export DOTNET_ENVIRONMENT="Production" ASPNETCORE_ENVIRONMENT="Production"
  # STORAGE_ENV="NAME=value ..." sets variables for Storage alone (e.g. runtime knobs to compare).
  for kv in ${STORAGE_ENV:-}; do export "${kv?}"; done
  exec dotnet Broker.Storage.dll
) >"$WORK/storage.log" 2>&1 &
STORAGE_PID=$!

health=""
for _ in $(seq 1 120); do
  health="$(curl -fsS --max-time 2 "http://127.0.0.1:$HTTP_PORT/health" 2>/dev/null || true)"
  [[ "$health" == "Healthy" ]] && break
  kill -0 "$STORAGE_PID" 2>/dev/null || die "Broker.Storage exited at start"
  sleep 0.5
done
[[ "$health" == "Healthy" ]] || die "Broker.Storage's /health did not answer Healthy within 60 s (last: '${health}')"
log "Broker.Storage is healthy (pid $STORAGE_PID); $(nproc) cores on this machine"

# --- the load generator -----------------------------------------------------------------------------------
log "Broker.LoadGen $*"
dotnet "$LOADGEN_DLL" \
  --storage "http://127.0.0.1:$GRPC_PORT" \
  --rest "http://127.0.0.1:$HTTP_PORT" \
  --redis "127.0.0.1:$REDIS_PORT" \
  --storage-pid "$STORAGE_PID" \
  "$@"
