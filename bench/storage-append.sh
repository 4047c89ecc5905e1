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

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
require_tools

REDIS_PORT="$(free_port)"
HTTP_PORT="$(free_port)"
GRPC_PORT="$(free_port)"

# --- build (both Release; the output is stderr's, stdout carries only the JSON line) ---------------------
log "dotnet build -c Release Broker.Storage, bench/Broker.LoadGen"
build_release Broker.Storage/Broker.Storage.csproj bench/Broker.LoadGen/Broker.LoadGen.csproj
LOADGEN_DLL="$ROOT/artifacts/bin/Broker.LoadGen/release/Broker.LoadGen.dll"
[[ -f "$LOADGEN_DLL" ]] || die "no $LOADGEN_DLL after the build"

# --- redis-server, Broker.Storage ----------------------------------------------------------------------------
start_redis "$REDIS_PORT"
start_storage "$REDIS_PORT" "$HTTP_PORT" "$GRPC_PORT"
wait_healthy Broker.Storage "http://127.0.0.1:$HTTP_PORT/health" "$STORAGE_PID"

# --- the load generator -----------------------------------------------------------------------------------
log "Broker.LoadGen $*"
dotnet "$LOADGEN_DLL" \
  --storage "http://127.0.0.1:$GRPC_PORT" \
  --rest "http://127.0.0.1:$HTTP_PORT" \
  --redis "127.0.0.1:$REDIS_PORT" \
  --storage-pid "$STORAGE_PID" \
  "$@"
