#!/usr/bin/env bash
# The end-to-end benchmark, producer to consumer, in one command:
#
#   bench/produce-deliver.sh                                  # 200000 records of 1 KiB at full speed, then 1k and 10k records/s
#   bench/produce-deliver.sh --rates 1000,10000,20000 --rate-seconds 5
#   DELIVERY_ENV="Delivery__CommitIntervalMs=500" bench/produce-deliver.sh
#
# Starts a fresh redis-server, Broker.Storage, Broker.Ingest and Broker.Delivery (Release builds) on free
# loopback ports, waits for their /health, and runs bench/Broker.LoadGen --scenario produce-deliver: in the
# same run, the broker (produce on Ingest's gRPC stream, consume on Delivery's gRPC stream, ack every record)
# and the baseline (Dapr pubsub.redis's pattern: XADD per record, XREADGROUP, XACK per record) on the same
# Redis. One JSON line on stdout; everything else on stderr. All processes are stopped on exit.
#
# STORAGE_ENV, INGEST_ENV and DELIVERY_ENV ("NAME=value ...") set variables for one service alone.
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
DELIVERY_HTTP_PORT="$(free_port)"
DELIVERY_GRPC_PORT="$(free_port)"

log "dotnet build -c Release Broker.Storage, Broker.Ingest, Broker.Delivery, bench/Broker.LoadGen"
build_release Broker.Storage/Broker.Storage.csproj Broker.Ingest/Broker.Ingest.csproj Broker.Delivery/Broker.Delivery.csproj \
  bench/Broker.LoadGen/Broker.LoadGen.csproj
LOADGEN_DLL="$ROOT/artifacts/bin/Broker.LoadGen/release/Broker.LoadGen.dll"
[[ -f "$LOADGEN_DLL" ]] || die "no $LOADGEN_DLL after the build"

start_redis "$REDIS_PORT"
start_storage "$REDIS_PORT" "$STORAGE_HTTP_PORT" "$STORAGE_GRPC_PORT"
wait_healthy Broker.Storage "http://127.0.0.1:$STORAGE_HTTP_PORT/health" "$STORAGE_PID"
start_ingest "$STORAGE_GRPC_PORT" "$INGEST_HTTP_PORT" "$INGEST_GRPC_PORT"
start_delivery "$REDIS_PORT" "$STORAGE_GRPC_PORT" "$DELIVERY_HTTP_PORT" "$DELIVERY_GRPC_PORT"
wait_healthy Broker.Ingest "http://127.0.0.1:$INGEST_HTTP_PORT/health" "$INGEST_PID"
wait_healthy Broker.Delivery "http://127.0.0.1:$DELIVERY_HTTP_PORT/health" "$DELIVERY_PID"

log "Broker.LoadGen --scenario produce-deliver $*"
dotnet "$LOADGEN_DLL" \
  --scenario produce-deliver \
  --storage "http://127.0.0.1:$STORAGE_GRPC_PORT" \
  --rest "http://127.0.0.1:$STORAGE_HTTP_PORT" \
  --ingest "http://127.0.0.1:$INGEST_GRPC_PORT" \
  --delivery "http://127.0.0.1:$DELIVERY_GRPC_PORT" \
  --redis "127.0.0.1:$REDIS_PORT" \
  --storage-pid "$STORAGE_PID" \
  --ingest-pid "$INGEST_PID" \
  --delivery-pid "$DELIVERY_PID" \
  "$@"
