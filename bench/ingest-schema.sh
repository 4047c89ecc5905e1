#!/usr/bin/env bash
# What schema enforcement costs, in one command:
#
#   bench/ingest-schema.sh                          # 200000 Avro records of about 1 KiB, 100 per request
#   bench/ingest-schema.sh --records 400000 --rounds 3
#
# Starts a fresh redis-server, Broker.Storage, SchemaRegistry (on the same Redis) and Broker.Ingest (pointed
# at both through service discovery) on free loopback ports, and runs bench/Broker.LoadGen --scenario
# ingest-schema: the same framed Avro records through Ingest's gRPC produce stream to a topic with schema
# validation and to one without, round after round. The JSON line's baseline is the unchecked topic and its
# ratio is checked over unchecked (the target is at least 0.9). All processes are stopped on exit.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
require_tools

REDIS_PORT="$(free_port)"
STORAGE_HTTP_PORT="$(free_port)"
STORAGE_GRPC_PORT="$(free_port)"
REGISTRY_PORT="$(free_port)"
INGEST_HTTP_PORT="$(free_port)"
INGEST_GRPC_PORT="$(free_port)"

log "dotnet build -c Release Broker.Storage, SchemaRegistry, Broker.Ingest, bench/Broker.LoadGen"
build_release Broker.Storage/Broker.Storage.csproj SchemaRegistry/SchemaRegistry.csproj Broker.Ingest/Broker.Ingest.csproj \
  bench/Broker.LoadGen/Broker.LoadGen.csproj
LOADGEN_DLL="$ROOT/artifacts/bin/Broker.LoadGen/release/Broker.LoadGen.dll"

start_redis "$REDIS_PORT"
start_storage "$REDIS_PORT" "$STORAGE_HTTP_PORT" "$STORAGE_GRPC_PORT"
start_registry "$REDIS_PORT" "$REGISTRY_PORT"
wait_healthy Broker.Storage "http://127.0.0.1:$STORAGE_HTTP_PORT/health" "$STORAGE_PID"
wait_healthy SchemaRegistry "http://127.0.0.1:$REGISTRY_PORT/health" "$REGISTRY_PID"
REGISTRY_URL="http://127.0.0.1:$REGISTRY_PORT" start_ingest "$STORAGE_GRPC_PORT" "$INGEST_HTTP_PORT" "$INGEST_GRPC_PORT"
wait_healthy Broker.Ingest "http://127.0.0.1:$INGEST_HTTP_PORT/health" "$INGEST_PID"

log "Broker.LoadGen --scenario ingest-schema $*"
dotnet "$LOADGEN_DLL" \
  --scenario ingest-schema \
  --storage "http://127.0.0.1:$STORAGE_GRPC_PORT" \
  --rest "http://127.0.0.1:$STORAGE_HTTP_PORT" \
  --ingest "http://127.0.0.1:$INGEST_GRPC_PORT" \
  --registry "http://127.0.0.1:$REGISTRY_PORT" \
  --redis "127.0.0.1:$REDIS_PORT" \
  --storage-pid "$STORAGE_PID" \
  --ingest-pid "$INGEST_PID" \
  "$@"
