#!/usr/bin/env bash
# The system benchmark of Ingest's produce path, in one command:
#
#   bench/ingest-produce.sh                                   # gRPC stream, 200000 records of 1 KiB, 100 per request
#   bench/ingest-produce.sh --scenario ingest-http            # JSON POSTs of 100 records (valueBase64)
#   bench/ingest-produce.sh --values text --codec lz4         # compressible values, topic compression lz4
#   INGEST_ENV="Ingest__LingerMs=5" bench/ingest-produce.sh   # environment for Ingest alone (STORAGE_ENV: Storage)
#
# Starts a fresh redis-server on a free loopback port (no AOF, no RDB, in a temp dir), Broker.Storage and
# Broker.Ingest (Release builds) on free ports, Ingest pointed at Storage's gRPC endpoint, waits for both
# /health to answer Healthy, runs bench/Broker.LoadGen (Release) with --scenario ingest-grpc unless the
# arguments name another, and prints its one JSON line on stdout: the baseline (pipelined XADD of the same
# records, the pattern of Dapr's pubsub.redis) and the produce path through Ingest on the same Redis in
# the same run. Everything else goes to stderr. All three processes are stopped on exit, whatever happens.
#
# The processes share this machine's cores (2 on the project's machines): redis-server, Storage, Ingest
# and the load generator compete, which is part of what is measured. The JSON line reports the cores each used.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
require_tools

REDIS_PORT="$(free_port)"
STORAGE_HTTP_PORT="$(free_port)"
STORAGE_GRPC_PORT="$(free_port)"
INGEST_HTTP_PORT="$(free_port)"
INGEST_GRPC_PORT="$(free_port)"

# --- build (all Release; the output is stderr's, stdout carries only the JSON line) -----------------------
log "dotnet build -c Release Broker.Storage, Broker.Ingest, bench/Broker.LoadGen"
build_release Broker.Storage/Broker.Storage.csproj Broker.Ingest/Broker.Ingest.csproj bench/Broker.LoadGen/Broker.LoadGen.csproj
LOADGEN_DLL="$ROOT/artifacts/bin/Broker.LoadGen/release/Broker.LoadGen.dll"
[[ -f "$LOADGEN_DLL" ]] || die "no $LOADGEN_DLL after the build"

# --- redis-server, Broker.Storage --------------------------------------------------------------------------
start_redis "$REDIS_PORT"
start_storage "$REDIS_PORT" "$STORAGE_HTTP_PORT" "$STORAGE_GRPC_PORT"
wait_healthy Broker.Storage "http://127.0.0.1:$STORAGE_HTTP_PORT/health" "$STORAGE_PID"

# --- Broker.Ingest -----------------------------------------------------------------------------------------
start_ingest "$STORAGE_GRPC_PORT" "$INGEST_HTTP_PORT" "$INGEST_GRPC_PORT"
wait_healthy Broker.Ingest "http://127.0.0.1:$INGEST_HTTP_PORT/health" "$INGEST_PID"

# --- the load generator -----------------------------------------------------------------------------------
# --scenario ingest-grpc comes first, so a --scenario in the arguments overrides it.
log "Broker.LoadGen --scenario ingest-grpc $*"
dotnet "$LOADGEN_DLL" \
  --scenario ingest-grpc \
  --storage "http://127.0.0.1:$STORAGE_GRPC_PORT" \
  --rest "http://127.0.0.1:$STORAGE_HTTP_PORT" \
  --ingest "http://127.0.0.1:$INGEST_GRPC_PORT" \
  --ingest-rest "http://127.0.0.1:$INGEST_HTTP_PORT" \
  --redis "127.0.0.1:$REDIS_PORT" \
  --storage-pid "$STORAGE_PID" \
  --ingest-pid "$INGEST_PID" \
  "$@"
