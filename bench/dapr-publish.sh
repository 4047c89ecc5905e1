#!/usr/bin/env bash
# Dapr publishing against our native produce, in one command:
#
#   bench/dapr-publish.sh                           # 50000 JSON events of 1 KiB per path, one per call, 16 calls in flight
#   bench/dapr-publish.sh --batch 100               # the bulk calls (BulkPublishEvent, BulkPublish) vs 100-record requests
#   bench/dapr-publish.sh --concurrency 64 --rounds 3
#
# Starts a fresh redis-server, Broker.Storage, Broker.Ingest and the pluggable component host
# (Broker.DaprComponent, on a Unix socket in a temp folder), Release builds on free loopback ports, then runs
# bench/Broker.LoadGen --scenario dapr-publish: per round, the native gRPC produce stream (the baseline), the
# real DaprClient against Ingest's Dapr API, and the component's Publish over its socket (called as daprd calls
# it), each into its own topic. Prints one JSON line on stdout: events/s, p50 and p99 per path (best round), the
# Dapr paths' ratios to the native one, and the cores each process used. Everything else goes to stderr.
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
COMPONENT_HTTP_PORT="$(free_port)"

log "dotnet build -c Release Broker.Storage, Broker.Ingest, Broker.DaprComponent, bench/Broker.LoadGen"
build_release Broker.Storage/Broker.Storage.csproj Broker.Ingest/Broker.Ingest.csproj Broker.DaprComponent/Broker.DaprComponent.csproj \
  bench/Broker.LoadGen/Broker.LoadGen.csproj
LOADGEN_DLL="$ROOT/artifacts/bin/Broker.LoadGen/release/Broker.LoadGen.dll"
[[ -f "$LOADGEN_DLL" ]] || die "no $LOADGEN_DLL after the build"

start_redis "$REDIS_PORT"
start_storage "$REDIS_PORT" "$STORAGE_HTTP_PORT" "$STORAGE_GRPC_PORT"
wait_healthy Broker.Storage "http://127.0.0.1:$STORAGE_HTTP_PORT/health" "$STORAGE_PID"
start_ingest "$STORAGE_GRPC_PORT" "$INGEST_HTTP_PORT" "$INGEST_GRPC_PORT"
wait_healthy Broker.Ingest "http://127.0.0.1:$INGEST_HTTP_PORT/health" "$INGEST_PID"

# The component listens where daprd would look for it (DAPR_COMPONENTS_SOCKETS_FOLDER), here a folder of this run.
mkdir -p "$WORK/sockets"
start_service Broker.DaprComponent "$COMPONENT_HTTP_PORT" "" "DAPR_COMPONENTS_SOCKETS_FOLDER=$WORK/sockets"
COMPONENT_PID=$SERVICE_PID
wait_healthy Broker.DaprComponent "http://127.0.0.1:$COMPONENT_HTTP_PORT/health" "$COMPONENT_PID"

log "Broker.LoadGen --scenario dapr-publish --records 50000 $*"
dotnet "$LOADGEN_DLL" \
  --scenario dapr-publish \
  --records 50000 \
  --batch 1 \
  --storage "http://127.0.0.1:$STORAGE_GRPC_PORT" \
  --rest "http://127.0.0.1:$STORAGE_HTTP_PORT" \
  --ingest "http://127.0.0.1:$INGEST_GRPC_PORT" \
  --redis "127.0.0.1:$REDIS_PORT" \
  --component-socket "$WORK/sockets/broker.sock" \
  --storage-pid "$STORAGE_PID" \
  --ingest-pid "$INGEST_PID" \
  --component-pid "$COMPONENT_PID" \
  "$@"
