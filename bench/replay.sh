#!/usr/bin/env bash
# Replay throughput out of the cold tier, in one command:
#
#   bench/replay.sh                              # S3 (s3rver): 200000 records of 1 KiB tiered, then replayed (verify target)
#   bench/replay.sh --store local                # the same from the local-folder segment store
#   bench/replay.sh --replay-target topic        # republish into a new topic instead of verifying
#
# Starts redis-server, an S3-compatible server (s3rver, unless --store local), Broker.Storage (segments in that
# store, tiering every 200 ms, a chunk cache far smaller than the data so every round reads the store) and
# Broker.Delivery, and runs bench/Broker.LoadGen --scenario replay: the load generator fills a topic, waits until
# all of it is in segments, then per round times a plain read of the same objects (the baseline) and a replay
# job of the whole topic. One JSON line on stdout; everything else on stderr. Everything is stopped on exit.
#
# STORAGE_ENV and DELIVERY_ENV ("NAME=value ...") set variables for one service alone.
set -euo pipefail

# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
require_tools

STORE="s3"
for ((i = 1; i <= $#; i++)); do
  if [[ "${!i}" == "--store" ]]; then
    j=$((i + 1))
    STORE="${!j}"
  fi
done

REDIS_PORT="$(free_port)"
STORAGE_HTTP_PORT="$(free_port)"
STORAGE_GRPC_PORT="$(free_port)"
DELIVERY_HTTP_PORT="$(free_port)"
DELIVERY_GRPC_PORT="$(free_port)"
S3_PORT="$(free_port)"
BUCKET="broker-bench"
PREFIX="bench"

log "dotnet build -c Release Broker.Storage, Broker.Delivery, bench/Broker.LoadGen"
build_release Broker.Storage/Broker.Storage.csproj Broker.Delivery/Broker.Delivery.csproj bench/Broker.LoadGen/Broker.LoadGen.csproj
LOADGEN_DLL="$ROOT/artifacts/bin/Broker.LoadGen/release/Broker.LoadGen.dll"

start_redis "$REDIS_PORT"
SEGMENTS=(
  "Storage__Segments__Prefix=$PREFIX"
  "Storage__Tiering__IntervalMs=200"
  "Storage__Tiering__SegmentMaxAgeMs=1000"
  "Storage__Tiering__HardLimitFactor=1000"
)
if [[ "$STORE" == "s3" ]]; then
  start_s3rver "$S3_PORT" "$BUCKET"
  SEGMENTS+=(
    "Storage__Segments__Store=s3"
    "Storage__Segments__S3__Bucket=$BUCKET"
    "Storage__Segments__S3__ServiceUrl=http://127.0.0.1:$S3_PORT"
    "Storage__Segments__S3__ForcePathStyle=true"
    "Storage__Segments__S3__AccessKey=S3RVER"
    "Storage__Segments__S3__SecretKey=S3RVER"
  )
  STORE_ARGS=(--s3-url "http://127.0.0.1:$S3_PORT" --s3-bucket "$BUCKET" --s3-prefix "$PREFIX")
else
  mkdir -p "$WORK/segments"
  SEGMENTS+=("Storage__Segments__Store=local" "Storage__Segments__Directory=$WORK/segments")
  STORE_ARGS=(--segments-dir "$WORK/segments" --s3-prefix "$PREFIX")
fi
start_service Broker.Storage "$STORAGE_HTTP_PORT" "$STORAGE_GRPC_PORT" "ConnectionStrings__redis=127.0.0.1:$REDIS_PORT" "${SEGMENTS[@]}"
STORAGE_PID=$SERVICE_PID
wait_healthy Broker.Storage "http://127.0.0.1:$STORAGE_HTTP_PORT/health" "$STORAGE_PID"
start_delivery "$REDIS_PORT" "$STORAGE_GRPC_PORT" "$DELIVERY_HTTP_PORT" "$DELIVERY_GRPC_PORT"
wait_healthy Broker.Delivery "http://127.0.0.1:$DELIVERY_HTTP_PORT/health" "$DELIVERY_PID"

log "Broker.LoadGen --scenario replay ${STORE_ARGS[*]} $*"
dotnet "$LOADGEN_DLL" \
  --scenario replay \
  --storage "http://127.0.0.1:$STORAGE_GRPC_PORT" \
  --rest "http://127.0.0.1:$STORAGE_HTTP_PORT" \
  --delivery-rest "http://127.0.0.1:$DELIVERY_HTTP_PORT" \
  --redis "127.0.0.1:$REDIS_PORT" \
  --storage-pid "$STORAGE_PID" \
  --delivery-pid "$DELIVERY_PID" \
  "${STORE_ARGS[@]}" \
  "$@"
