#!/usr/bin/env bash
# spec/bench/run.sh: ccproxy's benchmarks. Every number is measured next to a baseline in the
# same run and reported with the ratio, so a slow or busy machine shifts both sides alike:
#   1. relay overhead: wrk against nginx directly and through ccproxy (num_workers 1 and 2);
#   2. pipeline cost in isolation: rules, hooks and body handling vs building the request only,
#      and req:tokens() vs one string.find scan of the same body;
#   3. memory: ccproxy's RSS idle, after 10k and after 50k proxied requests;
#   4. streaming: the latency ccproxy adds to each server-sent event;
#   5. routing cost: a group of 8 deployments under each routing strategy (and with Redis) vs
#      a label that names one deployment;
#   6. the request record: every record sink on (the SQLite store, /metrics, traces to an OTLP
#      endpoint, the session totals and the dashboard's) vs off, and RSS after 100k requests
#      with them on.
# From a fresh Debian 12 machine as root it installs what it needs (apt-get, quietly) and builds
# the release binary in build-bench/ (CCPROXY_BIN=path uses another binary). Everything runs on
# 127.0.0.1, in a temp dir, and every process it starts is stopped when it ends (a trap), even on
# failure or Ctrl-C. About three and a half minutes after the build. Options: --quick (2 s per
# wrk run, fewer requests: a check that the script works, not numbers to compare); --only 3
# (or 13, 245, ...) runs only those sections.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
bench="$root/spec/bench"
body="$root/spec/fixtures/claude-code/a_say_hi/01-messages.body.json"

duration=10
mem_first=10000
mem_total=50000
sse_events=200
sse_rounds=5
pipeline_n=2000
route_rounds=6
route_secs=2
route_conns=16
sink_rounds=12
sink_count=10000
sink_iso_n=20000
sink_iso_runs=5
sink_total=100000
only=123456
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) duration=2 mem_first=1000 mem_total=3000 sse_events=50 sse_rounds=2 pipeline_n=200 \
      route_rounds=1 route_secs=2 sink_rounds=1 sink_count=2000 sink_iso_n=2000 sink_iso_runs=1 sink_total=3000 ;;
    --only)
      if [ $# -lt 2 ] || ! [[ "$2" =~ ^[1-6]+$ ]]; then
        echo "spec/bench/run.sh: --only needs section numbers, e.g. --only 3 or --only 24" >&2
        exit 2
      fi
      only=$2
      shift
      ;;
    *)
      echo "usage: bash spec/bench/run.sh [--quick] [--only SECTIONS]   (e.g. --only 3)" >&2
      exit 2
      ;;
  esac
  shift
done
want() { [[ "$only" == *"$1"* ]]; }

started=$SECONDS

# --- what it needs ------------------------------------------------------------------------

debs=()
for p in build-essential cmake pkg-config libuv1-dev libluajit2-5.1-dev libcjson-dev \
         libssl-dev libyaml-dev libhiredis-dev libsqlite3-dev node-llhttp curl procps; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || debs+=("$p")
done
command -v wrk >/dev/null 2>&1 || debs+=(wrk)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || debs+=(nginx-light)
if want 5; then command -v redis-server >/dev/null 2>&1 || debs+=(redis-server); fi
if [ ${#debs[@]} -gt 0 ]; then
  echo "installing: ${debs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${debs[@]}" >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)

# bench_records (spec/bench/records_bench.c, section 6) is built with the binary; with
# CCPROXY_BIN it is the one next to that binary, from the same build.
if [ -n "${CCPROXY_BIN:-}" ]; then
  ccproxy=$(realpath "$CCPROXY_BIN")
  bench_records="$(dirname "$ccproxy")/bench_records"
else
  ccproxy="$root/build-bench/ccproxy"
  bench_records="$root/build-bench/bench_records"
  cmake -S "$root" -B "$root/build-bench" -DCMAKE_BUILD_TYPE=Release >/dev/null
  build_log="$root/build-bench/bench-build.log"
  if ! cmake --build "$root/build-bench" --target ccproxy bench_records -j2 >"$build_log" 2>&1; then
    cat "$build_log" >&2
    echo "spec/bench/run.sh: the release build failed (log above)" >&2
    exit 1
  fi
fi
[ -x "$ccproxy" ] || { echo "spec/bench/run.sh: no ccproxy binary at $ccproxy" >&2; exit 1; }
if want 6 && ! [ -x "$bench_records" ]; then
  echo "spec/bench/run.sh: section 6 needs bench_records next to $ccproxy (cmake --build" \
    "$(dirname "$ccproxy") --target bench_records)" >&2
  exit 1
fi

# --- processes and cleanup ----------------------------------------------------------------

tmp=$(mktemp -d /tmp/ccproxy-bench.XXXXXX)
pids=()
# Whether PID runs (an exited child stays a zombie until waited for, and kill -0 still works
# on a zombie).
alive() {
  local state
  state=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null) && [ -n "$state" ] &&
    [ "$state" != Z ]
}
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do alive "$p" || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

gcc -std=gnu11 -O2 -Wall -Wextra -o "$tmp/sse_latency" "$bench/sse_latency.c"
prepared=$SECONDS

# Stops a process this script started (TERM, then KILL after 5 s) and forgets it.
stop_pid() {
  local pid=$1
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do alive "$pid" || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
}
forget_pid() {
  local keep=() p
  for p in "${pids[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  pids=("${keep[@]}")
}

# A TCP port on 127.0.0.1 that no socket uses right now, below the kernel's range of ephemeral
# ports when there is room (an outgoing connection of wrk, ccproxy or anything else on the
# machine may take a port of that range between the check and the listen).
read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_lo=0 eph_hi=0
port_lo=20000 port_n=40000
if [ "$eph_lo" -ge 12000 ]; then
  port_lo=10000 port_n=$((eph_lo - 10000))
elif [ "$eph_hi" -gt 0 ] && [ "$eph_hi" -le 55000 ]; then
  port_lo=$((eph_hi + 1)) port_n=$((65535 - eph_hi))
fi
used_ports=" "
free_port() {
  local p hex
  for _ in $(seq 200); do
    p=$((port_lo + (RANDOM * 32768 + RANDOM) % port_n))
    case "$used_ports" in *" $p "*) continue ;; esac
    hex=$(printf '%04X' "$p")
    # Any socket bound to it, listening or connected ($2 is local address:port in hex).
    if awk -v h=":$hex" 'FNR > 1 && substr($2, length($2) - 4) == h { found = 1 }
                         END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      continue
    fi
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
      used_ports="$used_ports$p "
      echo "$p"
      return 0
    fi
  done
  echo "spec/bench/run.sh: no free port found on 127.0.0.1" >&2
  return 1
}

# Waits until URL answers 200, while process PID lives. $3 names it in messages, $4 is its log.
wait_http() {
  local url=$1 pid=$2 what=$3 log=$4
  for _ in $(seq 100); do
    if ! alive "$pid"; then
      echo "spec/bench/run.sh: $what exited before answering $url; its log:" >&2
      cat "$log" >&2
      exit 1
    fi
    curl -sf -o /dev/null --max-time 1 "$url" && return 0
    sleep 0.1
  done
  echo "spec/bench/run.sh: $what did not answer $url within 10 s; its log:" >&2
  cat "$log" >&2
  exit 1
}

# The fast upstream: nginx with its own config and files in the temp dir ($2, default nginx);
# sets nginx_pid. With $3 = keys it logs the x-api-key of each request whose key starts with
# sk-ant-bench- to DIR/keys.log (section 5 counts the keys of a pool that way).
start_nginx() {
  local port=$1 dir="$tmp/${2:-nginx}" keys=${3:-}
  mkdir -p "$dir"
  sed -e "s#@DIR@#$dir#g" -e "s#@PORT@#$port#g" "$bench/nginx.conf" |
    awk -v keys="$keys" -v file="$dir/keys.log" '
      keys == "keys" && /^    access_log off;$/ {
        print "    map $http_x_api_key $bench_key { \"~^sk-ant-bench-\" 1; default 0; }"
        print "    log_format keys \x27$http_x_api_key\x27;"
        print "    access_log " file " keys buffer=64k flush=1s if=$bench_key;"
        next
      }
      { print }' >"$dir/nginx.conf"
  "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" >"$dir/stdout.log" 2>&1 &
  pids+=($!)
  nginx_pid=$!
  # A GET gets the fixed 404; any answer means it is up.
  for _ in $(seq 100); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$port/" && return 0
    alive "$nginx_pid" || break
    sleep 0.1
  done
  echo "spec/bench/run.sh: nginx did not start on 127.0.0.1:$port; its log:" >&2
  cat "$dir/error.log" "$dir/stdout.log" >&2 2>/dev/null || true
  exit 1
}

# A config dir like the template's: the three default hooks, a match_model and a token_count
# rule (threshold under the body's size, so it really counts), every model to UPSTREAM_URL.
write_config() {
  local dir=$1 workers=$2 upstream=$3
  mkdir -p "$dir"
  cat >"$dir/ccproxy.yaml" <<EOF
ccproxy:
  hooks:
    - ccproxy.hooks.rule_evaluator
    - ccproxy.hooks.model_router
    - ccproxy.hooks.extract_session_id
  default_model_passthrough: true
  rules:
    - name: background
      rule: ccproxy.rules.MatchModelRule
      params:
        - model_name: haiku
    - name: long_context
      rule: ccproxy.rules.TokenCountRule
      params:
        - threshold: 40000
  server:
    shutdown_grace: 1
litellm:
  host: 127.0.0.1
  port: 4000
  num_workers: $workers
EOF
  cat >"$dir/config.yaml" <<EOF
model_list:
  - model_name: default
    litellm_params:
      model: claude-sonnet-5-5
  - model_name: background
    litellm_params:
      model: claude-haiku-5-5
  - model_name: long_context
    litellm_params:
      model: claude-opus-5-5
  - model_name: "claude-*"
    litellm_params:
      model: anthropic/*
      api_base: $upstream
EOF
}

# Starts ccproxy on PORT with config DIR (and the VAR=value words of $proxy_env in its
# environment); sets proxy_pid.
proxy_env=
start_proxy() {
  local dir=$1 port=$2
  # shellcheck disable=SC2086
  env $proxy_env PORT="$port" "$ccproxy" --config-dir "$dir" start >"$dir/ccproxy.log" 2>&1 &
  pids+=($!)
  proxy_pid=$!
  wait_http "http://127.0.0.1:$port/health" "$proxy_pid" "ccproxy ($dir)" "$dir/ccproxy.log"
}

# CPU time (user + system, all threads) PID has used so far, in clock ticks.
clk_tck=$(getconf CLK_TCK)
cpu_ticks() {
  sed 's/^.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# Runs wrk; sets w_rps, w_p50, w_p99 (ms), w_requests, and w_cpu (CPU microseconds per request
# spent by process $5, when given). $1 URL, $2 connections, $3 seconds, $4 request count to stop
# at (empty: none).
run_wrk() {
  local url=$1 conns=$2 secs=$3 count=${4:-} pid=${5:-} out t0=0 t1=0
  [ -n "$pid" ] && t0=$(cpu_ticks "$pid")
  rm -f "$tmp/wrk.done"
  BENCH_BODY="$body" BENCH_MAX_REQS="$count" BENCH_DONE_FILE="$tmp/wrk.done" \
    wrk -t1 -c"$conns" -d"${secs}s" -s "$bench/wrk_messages.lua" "$url" >"$tmp/wrk.out" 2>&1 &
  local wrk_pid=$! rc=0
  pids+=("$wrk_pid")
  # With a count, the script makes wrk.done once it has that many answers; SIGINT then ends
  # wrk's sleep through the rest of -d (repeated, in case one arrives too early).
  while [ -n "$count" ] && alive "$wrk_pid"; do
    [ -e "$tmp/wrk.done" ] && kill -INT "$wrk_pid" 2>/dev/null
    sleep 0.1
  done
  wait "$wrk_pid" || rc=$?
  forget_pid "$wrk_pid"
  out=$(cat "$tmp/wrk.out")
  if [ "$rc" != 0 ]; then
    echo "spec/bench/run.sh: wrk failed against $url (exit $rc):" >&2
    echo "$out" >&2
    exit 1
  fi
  local line
  line=$(grep '^BENCH ' <<<"$out") || {
    echo "spec/bench/run.sh: wrk printed no summary against $url:" >&2
    echo "$out" >&2
    exit 1
  }
  local errors non2xx
  errors=$(sed -n 's/.* errors=\([0-9]*\).*/\1/p' <<<"$line")
  non2xx=$(sed -n 's/.* non2xx=\([0-9]*\).*/\1/p' <<<"$line")
  if [ "$errors" != 0 ] || [ "$non2xx" != 0 ]; then
    echo "spec/bench/run.sh: $url answered with $errors socket errors and $non2xx non-2xx" \
      "statuses; the numbers would be meaningless" >&2
    exit 1
  fi
  w_requests=$(sed -n 's/.*requests=\([0-9]*\).*/\1/p' <<<"$line")
  w_cpu=-
  w_cpu_exact=-
  if [ -n "$pid" ]; then
    t1=$(cpu_ticks "$pid")
    w_cpu_exact=$(awk -v t="$((t1 - t0))" -v hz="$clk_tck" -v n="$w_requests" \
      'BEGIN { printf "%.2f", (n > 0) ? (t / hz * 1e6 / n) : 0 }')
    w_cpu=$(awk -v c="$w_cpu_exact" 'BEGIN { printf "%.0f", c }')
  fi
  w_rps=$(sed -n 's/.* rps=\([0-9.]*\).*/\1/p' <<<"$line")
  w_p50=$(awk -v us="$(sed -n 's/.*p50_us=\([0-9]*\).*/\1/p' <<<"$line")" \
    'BEGIN { printf "%.3f", us / 1000 }')
  w_p99=$(awk -v us="$(sed -n 's/.*p99_us=\([0-9]*\).*/\1/p' <<<"$line")" \
    'BEGIN { printf "%.3f", us / 1000 }')
}

# VmRSS and VmHWM of PID in MB.
rss_of() {
  awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { printf "%.1f %.1f", r / 1024, h / 1024 }' \
    "/proc/$1/status"
}

# The median of the numbers given as arguments.
median() { printf '%s\n' "$@" | sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2fx", a / b; else print "-" }'; }

# --- 1. relay overhead --------------------------------------------------------------------

relay() {
  local p1 p2 pid_w1 pid_w2 conns w port pid dir labels d_rps d_p50 d_p99 d_cpu
  p1=$(free_port)
  p2=$(free_port)
  write_config "$tmp/w2" 2 "http://127.0.0.1:$up_port"
  start_proxy "$tmp/w1" "$p1"
  pid_w1=$proxy_pid
  start_proxy "$tmp/w2" "$p2"
  pid_w2=$proxy_pid

  echo
  echo "1. Relay overhead: wrk -t1, ${duration} s per row, POST /v1/messages with Claude Code's"
  echo "   $(($(stat -c %s "$body") / 1024)) KB body and headers; nginx answers a 1.5 KB SSE stream"
  echo "   (cpu: CPU time per request of nginx for the direct rows, of ccproxy for the others)"
  printf '   %-26s %5s %8s %7s %7s %7s %8s %7s %7s %7s\n' target conns "req/s" "p50 ms" \
    "p99 ms" "cpu us" "req/s x" "p50 x" "p99 x" "cpu x"

  # Warm-up: JIT traces, pools, page cache.
  run_wrk "http://127.0.0.1:$up_port" 2 1
  run_wrk "http://127.0.0.1:$p1" 2 1
  run_wrk "http://127.0.0.1:$p2" 2 1

  for conns in 2 16; do
    run_wrk "http://127.0.0.1:$up_port" "$conns" "$duration" "" "$nginx_pid"
    d_rps=$w_rps d_p50=$w_p50 d_p99=$w_p99 d_cpu=$w_cpu
    printf '   %-26s %5s %8.0f %7s %7s %7s\n' "nginx direct (baseline)" "$conns" "$d_rps" \
      "$d_p50" "$d_p99" "$d_cpu"
    for w in 1 2; do
      port=$p1 pid=$pid_w1
      [ "$w" = 2 ] && port=$p2 pid=$pid_w2
      run_wrk "http://127.0.0.1:$port" "$conns" "$duration" "" "$pid"
      printf '   %-26s %5s %8.0f %7s %7s %7s %8s %7s %7s %7s\n' "via ccproxy num_workers=$w" \
        "$conns" "$w_rps" "$w_p50" "$w_p99" "$w_cpu" "$(ratio "$w_rps" "$d_rps")" \
        "$(ratio "$w_p50" "$d_p50")" "$(ratio "$w_p99" "$d_p99")" "$(ratio "$w_cpu" "$d_cpu")"
    done
  done
  for dir in "$tmp/w1" "$tmp/w2"; do
    if grep -q ' ERROR ' "$dir/ccproxy.log"; then
      echo "   ccproxy logged errors ($dir):"
      grep ' ERROR ' "$dir/ccproxy.log" | head -n 3 | sed 's/^/     /'
    fi
  done
  labels=$(grep -c 'label=default deployment=claude-\* model=claude-opus-5-5 status=200' \
    "$tmp/w1/ccproxy.log" || true)
  echo "   (num_workers=1 logged $labels requests as label=default -> claude-* status=200)"
  stop_pid "$pid_w1"
  stop_pid "$pid_w2"
}

# --- 2. pipeline cost in isolation --------------------------------------------------------

pipeline() {
  echo
  echo "2. Pipeline cost in isolation: ccproxy lua spec/bench/pipeline.lua"
  "$ccproxy" lua "$bench/pipeline.lua" "$root" "$tmp/w1" "$pipeline_n"
}

# --- 3. memory ----------------------------------------------------------------------------

memory() {
  local pm pid_mem idle_rss idle_hwm first_rss first_hwm total_rss total_hwm first_n total_n
  local verdict
  echo
  echo "3. Memory: a fresh ccproxy (num_workers=1), wrk -c16, /proc/PID/status"
  pm=$(free_port)
  write_config "$tmp/mem" 1 "http://127.0.0.1:$up_port"
  start_proxy "$tmp/mem" "$pm"
  pid_mem=$proxy_pid
  sleep 0.5
  read -r idle_rss idle_hwm <<<"$(rss_of "$pid_mem")"
  run_wrk "http://127.0.0.1:$pm" 16 120 "$mem_first"
  read -r first_rss first_hwm <<<"$(rss_of "$pid_mem")"
  first_n=$w_requests
  run_wrk "http://127.0.0.1:$pm" 16 240 "$((mem_total - mem_first))"
  read -r total_rss total_hwm <<<"$(rss_of "$pid_mem")"
  total_n=$((first_n + w_requests))
  printf '   %-26s %9s %9s\n' point "VmRSS MB" "VmHWM MB"
  printf '   %-26s %9s %9s\n' "idle after start" "$idle_rss" "$idle_hwm"
  printf '   %-26s %9s %9s\n' "after $first_n requests" "$first_rss" "$first_hwm"
  printf '   %-26s %9s %9s\n' "after $total_n requests" "$total_rss" "$total_hwm"
  verdict=$(awk -v a="$first_rss" -v b="$total_rss" \
    'BEGIN { print (b <= a * 1.10 + 1) ? "flat" : "GROWS: look for a leak" }')
  echo "   growth from $first_n to $total_n requests: $(ratio "$total_rss" "$first_rss")" \
    "($verdict); idle to $total_n: $(ratio "$total_rss" "$idle_rss")"
  stop_pid "$pid_mem"
}

# --- 4. streaming latency -----------------------------------------------------------------

streaming() {
  local sse_up ps_port sse_out mode p50 p90 p99 name added verdict
  echo
  echo "4. Streaming: time from the upstream writing an SSE event to the client having it"
  echo "   ($sse_rounds rounds x $sse_events events 1 ms apart, direct and via ccproxy alternating)"
  sse_up=$(free_port)
  ps_port=$(free_port)
  write_config "$tmp/sse" 1 "http://127.0.0.1:$sse_up"
  start_proxy "$tmp/sse" "$ps_port"
  sse_out=$("$tmp/sse_latency" "$sse_up" "$ps_port" "$body" "$sse_events" "$sse_rounds" 1000)
  stop_pid "$proxy_pid"
  printf '   %-26s %9s %9s %9s\n' "" "p50 us" "p90 us" "p99 us"
  while read -r _ mode _ p50 p90 p99; do
    case "$mode" in
      direct) name="direct (baseline)" ;;
      proxied) name="via ccproxy" ;;
      *) continue ;;
    esac
    printf '   %-26s %9s %9s %9s\n' "$name" "${p50#p50_us=}" "${p90#p90_us=}" "${p99#p99_us=}"
  done <<<"$sse_out"
  added=$(sed -n 's/^SSE added_p50_us=//p' <<<"$sse_out")
  verdict=$(awk -v a="$added" 'BEGIN { print (a < 1000) ? "under 1 ms" : "OVER 1 ms" }')
  echo "   added per event (median): $added us ($verdict)"
}

# --- 5. routing cost ----------------------------------------------------------------------

# Redis on 127.0.0.1:PORT, nothing saved to disk, its files in the temp dir; sets redis_pid.
start_redis() {
  local port=$1 dir="$tmp/redis"
  mkdir -p "$dir"
  redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
    --logfile "$dir/redis.log" >"$dir/stdout.log" 2>&1 &
  pids+=($!)
  redis_pid=$!
  for _ in $(seq 100); do
    [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = PONG ] && return 0
    alive "$redis_pid" || break
    sleep 0.1
  done
  echo "spec/bench/run.sh: redis-server did not start on 127.0.0.1:$port; its log:" >&2
  cat "$dir/redis.log" "$dir/stdout.log" >&2 2>/dev/null || true
  exit 1
}

# One field of redis-server's INFO (it counts the INFO that asks, after answering it).
redis_info() {
  timeout 5 redis-cli -h 127.0.0.1 -p "$1" info "$2" 2>/dev/null |
    tr -d '\r' | sed -n "s/^$3://p"
}

# The config of one row of section 5: write_config's ccproxy.yaml (the same rules and hooks),
# and a config.yaml where the request's model, claude-opus-5-5, names MEMBERS deployments
# (1 or 8) on the upstream. They are a key pool: the same api_base and model, each with its
# own api_key (sk-ant-bench-ROW-N, which nginx logs). With $6 = models each has its own model
# too (claude-bench-N, which nginx ignores), which the log line names. $7 = limits sets rpm
# and tpm that never bind, $8 a Redis port for router_settings.
write_route_config() {
  local dir=$1 row=$2 members=$3 upstream=$4 strategy=$5 models=${6:-} limits=${7:-}
  local redis=${8:-} i model=anthropic/claude-opus-5-5
  write_config "$dir" 1 "$upstream"
  {
    cat <<EOF
model_list:
  - model_name: default
    litellm_params:
      model: claude-sonnet-5-5
  - model_name: background
    litellm_params:
      model: claude-haiku-5-5
  - model_name: long_context
    litellm_params:
      model: claude-opus-5-5
EOF
    for i in $(seq "$members"); do
      [ "$models" = models ] && model=anthropic/claude-bench-$i
      cat <<EOF
  - model_name: claude-opus-5-5
    litellm_params:
      model: $model
      api_base: $upstream
      api_key: sk-ant-bench-$row-$i
EOF
      # ccproxy's maximum, 1e9 a minute: far over what one core can send in a minute.
      if [ "$limits" = limits ]; then
        echo "      rpm: 1000000000"
        echo "      tpm: 1000000000"
      fi
    done
    echo "router_settings:"
    echo "  routing_strategy: $strategy"
    if [ -n "$redis" ]; then
      echo "  redis_host: 127.0.0.1"
      echo "  redis_port: $redis"
    fi
  } >"$dir/config.yaml"
}

# The middle one of its arguments (numbers).
median() {
  printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# How many of the lines on stdin give each value N = 1..$1 in what `sed -n "$2"` makes of
# them; prints " 1:count 2:count ...  (total; fewest/most ratio)".
spread() {
  sed -n "$2" | awk -v m="$1" '
    { c[$1]++; total++ }
    END {
      lo = -1; hi = 0
      for (k = 1; k <= m; k++) {
        v = c[k] + 0
        printf " %d:%d", k, v
        if (lo < 0 || v < lo) lo = v
        if (v > hi) hi = v
      }
      printf "  (%d", total + 0
      if (m > 1) printf "; fewest/most %s", (hi > 0) ? sprintf("%.2f", lo / hi) : "-"
      printf ")"
    }'
}

routing() {
  local redis_port up_port5 up names=() labels=() ports=() rpids=() n i r k dir members
  local -A rpss p50s p99s cpus
  local saved_nginx_pid=${nginx_pid:-} nginx5_pid
  # Its own nginx, which logs the api_key of the pools' requests (the one of sections 1 and 3
  # logs nothing).
  up_port5=$(free_port)
  start_nginx "$up_port5" nginx5 keys
  nginx5_pid=$nginx_pid
  nginx_pid=$saved_nginx_pid
  up="http://127.0.0.1:$up_port5"
  redis_port=$(free_port)
  start_redis "$redis_port"
  local redis_cmds0 redis_t0=$SECONDS redis_during=0 redis_reqs=0 redis_infos=1 c0 c1
  redis_cmds0=$(redis_info "$redis_port" stats total_commands_processed)

  names=(single again shuffle least latency usage redis models)
  labels=("(a) 1 deployment (baseline)" "(a') the same, again" "(b) 8, simple-shuffle"
          "(c) 8, least-busy" "(d) 8, latency-based" "(e) 8, usage-based"
          "(f) 8, shuffle + redis" "(g) 8 models, shuffle")
  write_route_config "$tmp/r-single" single 1 "$up" simple-shuffle
  write_route_config "$tmp/r-again" again 1 "$up" simple-shuffle
  write_route_config "$tmp/r-shuffle" shuffle 8 "$up" simple-shuffle
  write_route_config "$tmp/r-least" least 8 "$up" least-busy
  write_route_config "$tmp/r-latency" latency 8 "$up" latency-based-routing
  write_route_config "$tmp/r-usage" usage 8 "$up" usage-based-routing "" limits
  write_route_config "$tmp/r-redis" redis 8 "$up" simple-shuffle "" "" "$redis_port"
  write_route_config "$tmp/r-models" models 8 "$up" simple-shuffle models
  n=${#names[@]}
  for i in $(seq 0 $((n - 1))); do
    ports[i]=$(free_port)
    start_proxy "$tmp/r-${names[i]}" "${ports[i]}"
    rpids[i]=$proxy_pid
  done

  echo
  echo "5. Routing cost: the request of section 1 routed to one deployment (the baseline) or to"
  echo "   a group of 8 (a key pool on the nginx upstream) by each routing strategy; wrk -t1"
  echo "   -c$route_conns, $route_rounds round(s) of $route_secs s per row, the rows in turn;" \
    "each figure the median round's"
  echo "   (cpu: ccproxy's CPU time per request; (a') is (a) again in another process: what"
  echo "   differs between two identical rows is noise)"
  printf '   %-28s %8s %7s %7s %7s %9s %8s %6s %6s %6s\n' target "req/s" "p50 ms" "p99 ms" \
    "cpu us" "cpu range" "req/s x" "p50 x" "p99 x" "cpu x"

  # Warm-up: JIT traces, pools, page cache; latency-based-routing measures every member.
  run_wrk "$up" 2 1
  for i in $(seq 0 $((n - 1))); do run_wrk "http://127.0.0.1:${ports[i]}" "$route_conns" 1; done

  # nginx direct, as in section 1, for the ratio of the baseline to it.
  run_wrk "$up" "$route_conns" "$route_secs" "" "$nginx5_pid"
  local d_rps=$w_rps d_p50=$w_p50 d_p99=$w_p99 d_cpu=$w_cpu
  printf '   %-28s %8.0f %7s %7s %7s\n' "nginx direct (nginx's cpu)" "$d_rps" "$d_p50" "$d_p99" \
    "$d_cpu"

  # Each round visits every row, starting one row later than the round before, so that a
  # change in the machine's load falls on all rows alike.
  for r in $(seq 0 $((route_rounds - 1))); do
    for k in $(seq 0 $((n - 1))); do
      i=$(((k + r) % n))
      # Row (f): the commands Redis got from ccproxy during its runs (an INFO counts itself
      # once it has answered: c1 includes the c0 one).
      [ "${names[i]}" = redis ] && c0=$(redis_info "$redis_port" stats total_commands_processed)
      run_wrk "http://127.0.0.1:${ports[i]}" "$route_conns" "$route_secs" "" "${rpids[i]}"
      if [ "${names[i]}" = redis ]; then
        c1=$(redis_info "$redis_port" stats total_commands_processed)
        redis_during=$((redis_during + c1 - c0 - 1))
        redis_reqs=$((redis_reqs + w_requests))
        redis_infos=$((redis_infos + 2))
      fi
      rpss[$i]="${rpss[$i]:-} $w_rps"
      p50s[$i]="${p50s[$i]:-} $w_p50"
      p99s[$i]="${p99s[$i]:-} $w_p99"
      cpus[$i]="${cpus[$i]:-} $w_cpu"
    done
  done

  # Each column of a row is the median of its rounds (a burst of other work on the machine
  # moves one round, not the median); the range is the lowest and highest CPU of a round.
  local rps p50 p99 cpu lo hi a_rps a_p50 a_p99 a_cpu
  for i in $(seq 0 $((n - 1))); do
    # shellcheck disable=SC2086 # the lists split into their numbers
    {
      rps=$(median ${rpss[$i]})
      cpu=$(median ${cpus[$i]})
      p50=$(median ${p50s[$i]})
      p99=$(median ${p99s[$i]})
      lo=$(printf '%s\n' ${cpus[$i]} | sort -n | head -n 1)
      hi=$(printf '%s\n' ${cpus[$i]} | sort -n | tail -n 1)
    }
    if [ "$i" = 0 ]; then
      a_rps=$rps a_p50=$p50 a_p99=$p99 a_cpu=$cpu
      printf '   %-28s %8.0f %7s %7s %7s %9s\n' "${labels[i]}" "$rps" "$p50" "$p99" "$cpu" \
        "$lo-$hi"
    else
      printf '   %-28s %8.0f %7s %7s %7s %9s %8s %6s %6s %6s\n' "${labels[i]}" "$rps" "$p50" \
        "$p99" "$cpu" "$lo-$hi" "$(ratio "$rps" "$a_rps")" "$(ratio "$p50" "$a_p50")" \
        "$(ratio "$p99" "$a_p99")" "$(ratio "$cpu" "$a_cpu")"
    fi
  done
  echo "   (a) vs nginx direct: req/s $(ratio "$a_rps" "$d_rps"), p50 $(ratio "$a_p50" "$d_p50")," \
    "p99 $(ratio "$a_p99" "$d_p99"), cpu $(ratio "$a_cpu" "$d_cpu") (ccproxy's over nginx's)"

  # What Redis saw, read while the proxies still run (connected_clients counts the asking one).
  local redis_cmds1 redis_clients redis_secs=$((SECONDS - redis_t0))
  redis_cmds1=$(redis_info "$redis_port" stats total_commands_processed)
  redis_clients=$(redis_info "$redis_port" clients connected_clients)
  for i in $(seq 0 $((n - 1))); do stop_pid "${rpids[i]}"; done
  stop_pid "$nginx5_pid" # it writes out its buffered log

  # The picks, warm-up included: for (a)-(f) the api_key nginx got (the log line's model= is
  # the same for every member), for (g) the model= of ccproxy's log lines.
  echo "   requests per member, warm-up included (a-f: the api_key nginx got; g: the model="
  echo "   of ccproxy's log lines), and how many ccproxy logged as answered 200:"
  local answered
  for i in $(seq 0 $((n - 1))); do
    dir="$tmp/r-${names[i]}"
    members=8
    [ "$i" -le 1 ] && members=1
    answered=$(grep -c ' status=200 ' "$dir/ccproxy.log" || true)
    if [ "${names[i]}" = models ]; then
      printf '     %s%s; logged %s\n' "${labels[i]%% *}" "$(spread "$members" \
        's/.* deployment=claude-opus-5-5 model=claude-bench-\([0-9]*\) status=200 .*/\1/p' \
        <"$dir/ccproxy.log")" "$answered"
    else
      printf '     %s%s; logged %s\n' "${labels[i]%% *}" "$(spread "$members" \
        "s/^sk-ant-bench-${names[i]}-\([0-9]*\)$/\1/p" <"$tmp/nginx5/keys.log")" "$answered"
    fi
    if grep -q ' ERROR ' "$dir/ccproxy.log"; then
      echo "     ccproxy logged errors ($dir):"
      grep ' ERROR ' "$dir/ccproxy.log" | head -n 3 | sed 's/^/       /'
    fi
  done

  # Row (f): whether the router really shares its state through Redis. ccproxy's log says
  # what it did with redis_host; redis-server says whether anything talked to it.
  echo "   redis (row f): ccproxy's log lines that name it:"
  if grep -qi redis "$tmp/r-redis/ccproxy.log"; then
    grep -i redis "$tmp/r-redis/ccproxy.log" | head -n 6 | sed "s#$tmp/##" | cut -c1-120 |
      sed -e 's/ *$//' -e 's/^/     /'
  else
    echo "     (none)"
  fi
  local cmds=$((redis_cmds1 - redis_cmds0 - redis_infos))
  local idle=$((cmds - redis_during)) idle_secs=$((redis_secs - route_rounds * route_secs))
  local per_req per_sec
  per_req=$(awk -v c="$redis_during" -v q="$redis_reqs" \
    'BEGIN { printf "%.3f", (q > 0) ? c / q : 0 }')
  per_sec=$(awk -v c="$idle" -v t="$idle_secs" \
    'BEGIN { printf "%.0f", (t > 0) ? c / t : 0 }')
  echo "   redis-server on 127.0.0.1:$redis_port, commands from ccproxy: $redis_during during" \
    "row (f)'s runs ($per_req a"
  echo "   request), $idle in the ~$idle_secs s outside them ($per_sec a second);" \
    "$((redis_clients - 1)) connection(s) open at the end"
  if [ "$cmds" -gt 0 ]; then
    echo "   => the router's state went through Redis: row (f) includes its cost"
  else
    echo "   => nothing reached Redis: row (f) measures the same as (b), not Redis's cost"
  fi
  stop_pid "$redis_pid"
}

# --- 6. the request record's sinks --------------------------------------------------------

# The same config as section 1's; "off" adds the settings that turn every optional sink off.
write_sinks_config() {
  local dir=$1 mode=$2
  write_config "$dir" 1 "http://127.0.0.1:$up_port"
  if [ "$mode" = off ]; then
    awk '/^  server:$/ { print "  metrics_enabled: false"; print "  usage:"; \
                         print "    store: false" } { print }' "$dir/ccproxy.yaml" >"$dir/y"
    mv "$dir/y" "$dir/ccproxy.yaml"
  fi
}

# Starts the two proxies of section 6, in the order given ("off on" or "on off"); sets pid_off
# and pid_on.
start_sink_proxies() {
  local m
  for m in "$@"; do
    if [ "$m" = on ]; then
      proxy_env="OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:$up_port OTEL_SERVICE_NAME=ccproxy-bench"
      start_proxy "$tmp/sinks-on" "$p_on"
      pid_on=$proxy_pid
    else
      proxy_env=
      start_proxy "$tmp/sinks-off" "$p_off"
      pid_off=$proxy_pid
    fi
  done
  proxy_env=
  run_wrk "http://127.0.0.1:$p_off" 16 1
  run_wrk "http://127.0.0.1:$p_on" 16 1
}

sinks() {
  local p_off p_on pid_off= pid_on= r i cpu_off=() cpu_on=() rps_off=() rps_on=() ratios=()
  local before_rss after_rss rows c_off c_on
  echo
  echo "6. The request record: every sink on (store, /metrics, OTLP traces to nginx, session and"
  echo "   dashboard totals) vs the optional ones off; wrk -t1 -c16, $sink_rounds pair(s) of" \
    "rounds of $sink_count requests; before each pair both proxies start afresh (which starts"
  echo "   first turns, as does which runs first), and the pairs are compared one by one"
  p_off=$(free_port)
  p_on=$(free_port)
  write_sinks_config "$tmp/sinks-off" off
  write_sinks_config "$tmp/sinks-on" on
  for ((r = 0; r < sink_rounds; r++)); do
    # Fresh processes each pair: on this kind of machine a process keeps for its life whatever
    # made it a few per cent faster or slower than another (seen with two identical ones).
    [ -n "$pid_off" ] && stop_pid "$pid_off"
    [ -n "$pid_on" ] && stop_pid "$pid_on"
    if [ $((r % 4)) -lt 2 ]; then start_sink_proxies off on; else start_sink_proxies on off; fi
    for i in 0 1; do # the order turns each round
      if [ $(((r + i) % 2)) = 0 ]; then
        run_wrk "http://127.0.0.1:$p_off" 16 30 "$sink_count" "$pid_off"
        cpu_off+=("$w_cpu")
        rps_off+=("$w_rps")
        c_off=$w_cpu_exact
      else
        run_wrk "http://127.0.0.1:$p_on" 16 30 "$sink_count" "$pid_on"
        cpu_on+=("$w_cpu")
        rps_on+=("$w_rps")
        c_on=$w_cpu_exact
      fi
    done
    ratios+=("$(awk -v a="$c_on" -v b="$c_off" 'BEGIN { printf "%.4f", (b > 0) ? a / b : 1 }')")
  done
  printf '   %-34s %8s %8s %8s\n' row "req/s" "cpu us" "cpu x"
  printf '   %-34s %8.0f %8s\n' "sinks off (baseline)" "$(median "${rps_off[@]}")" \
    "$(median "${cpu_off[@]}")"
  printf '   %-34s %8.0f %8s %8s\n' "every sink on" "$(median "${rps_on[@]}")" \
    "$(median "${cpu_on[@]}")" "$(awk -v x="$(median "${ratios[@]}")" 'BEGIN { printf "%.2fx", x }')"
  # The pairs' ratios: their median is the figure; the quartiles show how much the machine moved.
  printf '%s\n' "${ratios[@]}" | sort -n | awk '{ a[NR] = $1 } END {
    q1 = a[int((NR + 3) / 4)]; m = a[int((NR + 1) / 2)]; q3 = a[int((3 * NR + 3) / 4)];
    printf "   the sinks cost %+.1f %% CPU per request (pairs: quartiles %+.1f %% .. %+.1f %%;" \
      " target: under 5 %%)\n", (m - 1) * 100, (q1 - 1) * 100, (q3 - 1) * 100 }'
  # The same sinks in isolation: records handed straight to cc_records_emit, no sockets on
  # the request side; the fastest of 5 runs per mode (other work can only add time).
  local mode k v best iso=()
  for mode in off metrics store otel on; do
    best=
    for ((k = 0; k < sink_iso_runs; k++)); do
      rm -rf "$tmp/iso"
      mkdir -p "$tmp/iso"
      v=$("$bench_records" "$mode" "$tmp/iso" "$sink_iso_n" "http://127.0.0.1:$up_port/v1/traces") ||
        { echo "spec/bench/run.sh: bench_records $mode failed" >&2; exit 1; }
      if ! grep -q ' dropped=0 ' <<<"$v"; then
        echo "spec/bench/run.sh: bench_records $mode dropped records, its figure is too low: $v" >&2
        exit 1
      fi
      v=$(sed -n 's/.* cpu_us=\([0-9.]*\).*/\1/p' <<<"$v")
      if [ -z "$best" ] || awk -v a="$v" -v b="$best" 'BEGIN { exit !(a < b) }'; then best=$v; fi
    done
    iso+=("$best")
  done
  echo "   in isolation (bench_records, $sink_iso_n records, fastest of $sink_iso_runs), CPU us per" \
    "record, all threads:"
  awk -v off="${iso[0]}" -v me="${iso[1]}" -v st="${iso[2]}" -v ot="${iso[3]}" -v on="${iso[4]}" \
    -v relay="$(median "${cpu_off[@]}")" 'BEGIN {
    printf "     session + dashboard totals (always on) %.2f; + /metrics %+.2f; + store %+.2f;" \
      " + traces %+.2f\n", off, me - off, st - off, ot - off;
    printf "     every optional sink on: %+.2f us per record = %.1f %% of a relayed request'"'"'s" \
      " %s us (target: under 5 %%)\n", on - off, (relay > 0) ? (on - off) / relay * 100 : 0, relay }'
  # What the sinks saw: the store's rows, the metrics' count, the traces nginx took.
  rows=-
  if command -v sqlite3 >/dev/null 2>&1 && [ -f "$tmp/sinks-on/usage.db" ]; then
    rows=$(sqlite3 "file:$tmp/sinks-on/usage.db?mode=ro" 'select count(*) from requests' \
      2>/dev/null || echo "?")
  fi
  echo "   store rows, from every run of the sinks-on proxy: $rows; the last one's /metrics says" \
    "$(curl -s "http://127.0.0.1:$p_on/metrics" | awk '/^ccproxy_requests_total/ { n += $NF }
      END { printf "%d", n }') requests"
  # Memory with every sink on.
  before_rss=$(rss_of "$pid_on" | cut -d' ' -f1)
  run_wrk "http://127.0.0.1:$p_on" 16 240 "$sink_total" "$pid_on"
  after_rss=$(rss_of "$pid_on" | cut -d' ' -f1)
  echo "   RSS with every sink on: ${before_rss} MB before, ${after_rss} MB after $w_requests" \
    "more requests ($(ratio "$after_rss" "$before_rss"))"
  stop_pid "$pid_off"
  stop_pid "$pid_on"
}

# --- run ----------------------------------------------------------------------------------

up_port=$(free_port)
if want 1 || want 3 || want 6; then start_nginx "$up_port"; fi
write_config "$tmp/w1" 1 "http://127.0.0.1:$up_port"
echo
echo "$("$ccproxy" --version 2>/dev/null || echo ccproxy) ($ccproxy), $(nproc) cores," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg)"
if want 1; then relay; fi
if want 2; then pipeline; fi
if want 3; then memory; fi
if want 4; then streaming; fi
if want 5; then routing; fi
if want 6; then sinks; fi
echo
echo "measured in $((SECONDS - prepared)) s (before that, installing and building:" \
  "$((prepared - started)) s); load average now $(cut -d' ' -f1-3 /proc/loadavg)"
