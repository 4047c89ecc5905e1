# Shared by the bench/*.sh scripts (sourced, not run): logging, a temp dir, free loopback ports, starting
# redis-server and Broker.Storage, waiting for /health, and stopping everything started on exit.
#
# The sourcing script sets `set -euo pipefail` first. Everything here writes to stderr; stdout is left to
# the load generator's JSON line.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_NAME="$(basename "$0")"

log() { printf '==> %s\n' "$*" >&2; }
die() { printf '%s: error: %s\n' "$BENCH_NAME" "$*" >&2; exit 1; }

require_tools() {
  command -v redis-server >/dev/null 2>&1 || die "redis-server is not on PATH (apt-get install redis-server)"
  command -v redis-cli >/dev/null 2>&1 || die "redis-cli is not on PATH (apt-get install redis-tools)"
  command -v dotnet >/dev/null 2>&1 || die "dotnet is not on PATH"
  command -v curl >/dev/null 2>&1 || die "curl is not on PATH"
}

WORK="$(mktemp -d "${TMPDIR:-/tmp}/${BENCH_NAME%.sh}.XXXXXX")"
# Processes started (stopped in reverse order on exit) and their logs (shown when the script fails).
BENCH_PIDS=()
BENCH_LOGS=()

bench_cleanup() {
  local status=$?
  local pid i
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
    pid="${BENCH_PIDS[i]}"
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
    fi
  done
  for ((i = ${#BENCH_PIDS[@]} - 1; i >= 0; i--)); do
    pid="${BENCH_PIDS[i]}"
    # Give each a few seconds to stop on SIGTERM, then make sure.
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [[ $status -ne 0 ]]; then
    for f in "${BENCH_LOGS[@]}"; do
      if [[ -s "$WORK/$f" ]]; then
        printf -- '--- last lines of %s ---\n' "$f" >&2
        tail -n 40 "$WORK/$f" >&2
      fi
    done
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap bench_cleanup EXIT
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

# dotnet build -c Release of each project given (output to stderr).
build_release() {
  local project
  for project in "$@"; do
    dotnet build -c Release -nologo -v quiet "$ROOT/$project" >&2
  done
}

# start_redis PORT: a fresh redis-server on 127.0.0.1:PORT (no AOF, no RDB, in $WORK); sets REDIS_PID.
start_redis() {
  local port="$1"
  log "redis-server on 127.0.0.1:$port (no persistence, dir $WORK)"
  redis-server --port "$port" --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" \
    --logfile "$WORK/redis.log" --daemonize no >/dev/null 2>&1 &
  REDIS_PID=$!
  BENCH_PIDS+=("$REDIS_PID")
  BENCH_LOGS+=(redis.log)
  for _ in $(seq 1 100); do
    [[ "$(redis-cli -p "$port" ping 2>/dev/null || true)" == "PONG" ]] && break
    kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited at start"
    sleep 0.1
  done
  [[ "$(redis-cli -p "$port" ping 2>/dev/null || true)" == "PONG" ]] || die "redis-server did not answer PING"
}

# start_s3rver PORT BUCKET: an S3-compatible server (the npm package s3rver) on 127.0.0.1:PORT, path-style, its
# objects in $WORK/s3, BUCKET created; sets S3_PID.
start_s3rver() {
  local port="$1" bucket="$2"
  command -v s3rver >/dev/null 2>&1 || die "s3rver is not on PATH (npm install -g s3rver; test.sh installs it)"
  mkdir -p "$WORK/s3"
  log "s3rver on 127.0.0.1:$port, bucket $bucket"
  s3rver -d "$WORK/s3" -a 127.0.0.1 -p "$port" --no-vhost-buckets --silent --configure-bucket "$bucket" >"$WORK/s3rver.log" 2>&1 &
  S3_PID=$!
  BENCH_PIDS+=("$S3_PID")
  BENCH_LOGS+=(s3rver.log)
  for _ in $(seq 1 100); do
    curl -fsS -o /dev/null "http://127.0.0.1:$port/$bucket" 2>/dev/null && return 0
    kill -0 "$S3_PID" 2>/dev/null || die "s3rver exited at start"
    sleep 0.1
  done
  die "s3rver did not answer on port $port"
}

# start_service NAME HTTP_PORT GRPC_PORT [NAME=value ...]: the Release build of a service (artifacts/bin/NAME) on
# free loopback ports (GRPC_PORT "" for none), from its output folder so its appsettings.json is the content
# root's, with the given variables, Production, logging at Warning, and the endpoints' protocols set here so
# gRPC is h2c whatever that file says. Extra variables for it alone come from ${PREFIX}_ENV ("NAME=value ...",
# e.g. STORAGE_ENV for Broker.Storage). Sets SERVICE_PID; the log is $WORK/<name>.log.
start_service() {
  local name="$1" http_port="$2" grpc_port="$3"
  shift 3
  local dir="$ROOT/artifacts/bin/$name/release" short="${name#Broker.}"
  short="${short,,}"
  local env_var="${short^^}_ENV"
  [[ -f "$dir/$name.dll" ]] || die "no $dir/$name.dll after the build"
  log "$name: REST http://127.0.0.1:$http_port${grpc_port:+, gRPC http://127.0.0.1:$grpc_port}"
  (
    cd "$dir"
    for kv in "$@"; do export "${kv?}"; done
    export Kestrel__Endpoints__Http__Url="http://127.0.0.1:$http_port"
    export Kestrel__Endpoints__Http__Protocols="Http1"
    if [[ -n "$grpc_port" ]]; then
      export Kestrel__Endpoints__Grpc__Url="http://127.0.0.1:$grpc_port"
      export Kestrel__Endpoints__Grpc__Protocols="Http2"
    fi
    export Logging__LogLevel__Default="Warning"
    export DOTNET_ENVIRONMENT="Production" ASPNETCORE_ENVIRONMENT="Production"
    for kv in ${!env_var:-}; do export "${kv?}"; done
    exec dotnet "$name.dll"
  ) >"$WORK/$short.log" 2>&1 &
  SERVICE_PID=$!
  BENCH_PIDS+=("$SERVICE_PID")
  BENCH_LOGS+=("$short.log")
}

# start_storage REDIS_PORT HTTP_PORT GRPC_PORT: Broker.Storage against that Redis; sets STORAGE_PID (STORAGE_ENV).
start_storage() {
  start_service Broker.Storage "$2" "$3" "ConnectionStrings__redis=127.0.0.1:$1"
  STORAGE_PID=$SERVICE_PID
}

# start_ingest STORAGE_GRPC_PORT HTTP_PORT GRPC_PORT: Broker.Ingest finding Storage through service discovery's
# configuration (services__storage__grpc__0), and the schema registry when REGISTRY_URL is set
# (services__schemaregistry__http__0); sets INGEST_PID (INGEST_ENV).
start_ingest() {
  start_service Broker.Ingest "$2" "$3" "services__storage__grpc__0=http://127.0.0.1:$1" \
    ${REGISTRY_URL:+"services__schemaregistry__http__0=$REGISTRY_URL"}
  INGEST_PID=$SERVICE_PID
}

# start_delivery REDIS_PORT STORAGE_GRPC_PORT HTTP_PORT GRPC_PORT: Broker.Delivery with its consumer groups in
# that Redis and Storage found through services__storage__grpc__0; sets DELIVERY_PID (DELIVERY_ENV).
start_delivery() {
  start_service Broker.Delivery "$3" "$4" "ConnectionStrings__redis=127.0.0.1:$1" "services__storage__grpc__0=http://127.0.0.1:$2"
  DELIVERY_PID=$SERVICE_PID
}

# start_registry REDIS_PORT HTTP_PORT: SchemaRegistry keeping its schemas in that Redis; sets REGISTRY_PID
# (SCHEMAREGISTRY_ENV).
start_registry() {
  start_service SchemaRegistry "$2" "" "ConnectionStrings__redis=127.0.0.1:$1"
  REGISTRY_PID=$SERVICE_PID
}

# wait_healthy NAME URL PID: until URL answers Healthy (at most 60 s), or fails if PID exits first.
wait_healthy() {
  local name="$1" url="$2" pid="$3" health=""
  for _ in $(seq 1 120); do
    health="$(curl -fsS --max-time 2 "$url" 2>/dev/null || true)"
    [[ "$health" == "Healthy" ]] && break
    kill -0 "$pid" 2>/dev/null || die "$name exited at start"
    sleep 0.5
  done
  [[ "$health" == "Healthy" ]] || die "$name's /health did not answer Healthy within 60 s (last: '${health}')"
  log "$name is healthy (pid $pid); $(nproc) cores on this machine"
}
