#!/usr/bin/env bash
# A bounded load test of `ratelab serve` on loopback (BENCHMARKS.md, "`ratelab serve` under
# load"). The load comes from live/src/bin/serve_load.rs (hand-written HTTP/1.1 on tokio):
#   1. hammer: SECONDS (default 30) of 200 keep-alive connections sending request after request
#      against scripts/load/serve_load.toml (a token bucket of 1 000/s, burst 100). From
#      `serve --trace` (the server's clock), the 200s in every window of length T must stay
#      within 100 + 1 000·T (the sup over all windows, and T = 1 ms … 10 s), and 429s must happen;
#   2. ids: 2 × 100 000 requests, each with its own x-ratelimit-client (0..200 000) and
#      x-request-id; serve's VmRSS must not grow with them, nor in the 5 s after the hammer;
#   3. slowloris: 1 000 connections sending a request head one byte every 2 s (reopened when
#      serve closes them) for 12 s while a health probe (GET /_ratelab/health on a fresh
#      connection) is sent every 200 ms: every probe answered, within PROBE_MAX_MS;
#   4. the same against a second serve started under `ulimit -n 256`: more connections than file
#      descriptors; every probe answered within PROBE_MAX_MS, and serve's CPU time (utime + stime
#      from /proc/PID/stat) during the 12 s under CPU_MAX_PERCENT of one core (no busy accept loop).
# Prints each phase's JSON and a summary; exit status 1 when a check fails. Linux only (/proc).
# Bounded: every step runs under `timeout`; about 30 s + 50 s after the build.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_LOAD=${1:-30}
CONNECTIONS=200
SLOW=1000
SLOW_S=12
FD_LIMIT=256
PROBE_MAX_MS=${PROBE_MAX_MS:-1000}
CPU_MAX_PERCENT=${CPU_MAX_PERCENT:-20}
RSS_AFTER_MAX_KB=${RSS_AFTER_MAX_KB:-1024}
RSS_IDS_MAX_KB=${RSS_IDS_MAX_KB:-2048}
here=scripts/load
py=$(command -v python3)

timeout 900 cargo build --release --locked -q
timeout 900 cargo build --release --locked -q -p ratelab-live --bin serve_load
bin=target/release/ratelab
load=target/release/serve_load
work=$(mktemp -d)
serve_pid=""
sampler_pid=""
stop_serve() {
  # Ctrl-C stops it and writes out the trace; a server that does not stop is killed.
  [ -n "$sampler_pid" ] && { kill "$sampler_pid" 2>/dev/null || true; wait "$sampler_pid" 2>/dev/null || true; }
  sampler_pid=""
  [ -n "$serve_pid" ] || return 0
  kill -INT "$serve_pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$serve_pid" 2>/dev/null || true
  wait "$serve_pid" 2>/dev/null || true
  serve_pid=""
}
trap 'stop_serve; rm -rf "$work"' EXIT

# start_serve NOFILE [ARGS...]: serve of serve_load.toml under `ulimit -n NOFILE` (- : as it is); sets $addr
# (from the banner) and $serve_pid, and starts sampling its VmRSS every 0.2 s into $work/rss.
start_serve() {
  local nofile=$1
  shift
  ([ "$nofile" = - ] || ulimit -n "$nofile"; exec "$bin" serve "$here/serve_load.toml" --addr 127.0.0.1:0 \
    --timer-spin-us 0 "$@") >"$work/serve.log" 2>&1 &
  serve_pid=$!
  addr=""
  for _ in $(seq 1 100); do
    addr=$(sed -n 's#.* on http://\([0-9.:]*\)[/ ].*#\1#p' "$work/serve.log" | head -1)
    [ -n "$addr" ] && break
    kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  [ -n "$addr" ] || { echo "ratelab serve did not start:"; cat "$work/serve.log"; exit 1; }
  : >"$work/rss"
  (while kill -0 "$serve_pid" 2>/dev/null; do
    echo "$(date +%s.%N) $(awk '/^VmRSS:/ {print $2}' "/proc/$serve_pid/status" 2>/dev/null)" >>"$work/rss"
    sleep 0.2
  done) &
  sampler_pid=$!
}
now() { date +%s.%N; }
rss() { awk '/^VmRSS:/ {print $2}' "/proc/$serve_pid/status"; }
# Most VmRSS (kB) sampled between two times.
peak_rss() { awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b && $2 > m {m = $2} END {print m + 0}' "$work/rss"; }
# utime + stime of serve, in clock ticks.
cpu_ticks() { sed 's/.*) //' "/proc/$serve_pid/stat" | awk '{print $12 + $13}'; }
tick=$(getconf CLK_TCK)

echo "== ratelab serve under load: $(nproc) cores, $(uname -sr)"
start_serve - --trace "$work/trace.jsonl"
echo "serve on $addr (pid $serve_pid, ulimit -n $(ulimit -n))"
sleep 0.5
rss_start=$(rss)

echo "== 1. hammer: $SECONDS_LOAD s, $CONNECTIONS keep-alive connections"
t0=$(now)
timeout $((SECONDS_LOAD + 30)) "$load" hammer "$addr" "$SECONDS_LOAD" "$CONNECTIONS" | tee "$work/hammer.json"
t1=$(now)
rss_end=$(rss)
rss_peak=$(peak_rss "$t0" "$t1")
sleep 5
rss_after=$(rss)
echo "VmRSS: before $rss_start kB, peak during $rss_peak kB, at the end $rss_end kB, 5 s after $rss_after kB"

echo "== 2. ids: 2 x 100 000 distinct x-ratelimit-client"
timeout 120 "$load" ids "$addr" 0 100000 50 | tee "$work/ids1.json"
sleep 1
rss_ids1=$(rss)
timeout 120 "$load" ids "$addr" 100000 200000 50 | tee "$work/ids2.json"
sleep 1
rss_ids2=$(rss)
echo "VmRSS: after the first 100 000 ids $rss_ids1 kB, after the next 100 000 $rss_ids2 kB"

echo "== 3. slowloris: $SLOW connections, one byte every 2 s, a probe every 200 ms for $SLOW_S s"
cpu0=$(cpu_ticks)
timeout $((SLOW_S + 60)) "$load" slowloris "$addr" "$SLOW" "$SLOW_S" 2000 200 | tee "$work/slow.json"
cpu_slow=$(($(cpu_ticks) - cpu0))
rss_slow=$(rss)
stop_serve
timeout 60 "$load" check-trace "$work/trace.jsonl" 1000 100 | tee "$work/trace_check.json" || true

echo "== 4. out of file descriptors: serve under ulimit -n $FD_LIMIT, $SLOW slow connections"
start_serve "$FD_LIMIT"
echo "serve on $addr (pid $serve_pid, ulimit -n $FD_LIMIT)"
sleep 0.5
cpu0=$(cpu_ticks)
c0=$(now)
timeout $((SLOW_S + 60)) "$load" slowloris "$addr" "$SLOW" "$SLOW_S" 2000 200 | tee "$work/fd.json"
c1=$(now)
cpu_fd=$(($(cpu_ticks) - cpu0))
grep "at most\|accept failed" "$work/serve.log" || true
stop_serve

"$py" - "$work" "$rss_start" "$rss_peak" "$rss_end" "$rss_after" "$rss_ids1" "$rss_ids2" \
  "$rss_slow" "$cpu_slow" "$cpu_fd" "$tick" "$c0" "$c1" "$PROBE_MAX_MS" "$CPU_MAX_PERCENT" \
  "$RSS_AFTER_MAX_KB" "$RSS_IDS_MAX_KB" "$SLOW_S" <<'PY'
import json, sys
w = sys.argv[1]
(rss_start, rss_peak, rss_end, rss_after, rss_ids1, rss_ids2, rss_slow, cpu_slow, cpu_fd, tick) = map(int, sys.argv[2:12])
c0, c1 = float(sys.argv[12]), float(sys.argv[13])
probe_max, cpu_max, rss_after_max, rss_ids_max, slow_s = map(float, sys.argv[14:19])
load = lambda n: json.load(open(f"{w}/{n}.json"))
h, t, i1, i2, s, f = (load(n) for n in ("hammer", "trace_check", "ids1", "ids2", "slow", "fd"))
fails = []
def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        fails.append(what)
print("== summary")
print(f"hammer (client side): {h['requests_per_s']:.0f} requests/s, {h['ok_per_s']:.0f} 200s/s, "
      f"{h['limited_per_s']:.0f} 429s/s over {h['seconds']:.1f} s; {h['transport_errors']} transport errors")
print(f"hammer (serve --trace): {t['server_requests_per_s']:.0f} requests/s, {t['server_200s_per_s']:.1f} 200s/s, "
      f"{t['server_429s_per_s']:.0f} 429s/s over {t['trace_span_s']:.1f} s")
check(t["limit_held"], f"the {t['all_200s_checked']} 200s in the trace: in any window, at most 100 + 1000·T "
      f"(sup over all windows of 200s − 1000·T: {t['sup_excess_over_rate_t']:.3f} ≤ 100; "
      + ", ".join(f"T={x['t_s']}s: {x['most_200s']} ≤ {x['bound']:g}" for x in t["windows"]) + ")")
check(t["trace_429s"] > 0 and t["trace_200s"] > 0, "both 200s and 429s were served")
check(h["transport_errors"] == 0 and h["other_status"] == 0 and h["bad_request"] == 0,
      "the hammer saw only 200s and 429s, no transport error")
check(rss_after <= rss_end + rss_after_max,
      f"VmRSS flat after the load: {rss_after} kB 5 s after ≤ {rss_end} kB at the end + {rss_after_max:g} kB "
      f"(before {rss_start} kB, peak {rss_peak} kB)")
check(i1["bad_request"] == 90000 and i2["bad_request"] == 100000 and i1["transport_errors"] + i2["transport_errors"] == 0,
      f"ids: client ids ≥ 10 000 answered 400 ({i1['bad_request']} + {i2['bad_request']}), the others "
      f"{i1['ok']} 200s and {i1['limited']} 429s")
check(rss_ids2 <= rss_ids1 + rss_ids_max,
      f"VmRSS with 200 000 distinct client ids: {rss_ids1} kB after 100 000, {rss_ids2} kB after 200 000 "
      f"(≤ + {rss_ids_max:g} kB)")
for name, p, cpu in (("slowloris", s, cpu_slow), ("out of fds", f, cpu_fd)):
    print(f"{name}: {p['probes_answered']}/{p['probes']} probes answered, median {p['probe_ms_median']} ms, "
          f"p90 {p['probe_ms_p90']} ms, max {p['probe_ms_max']} ms; slow connections opened {p['slow_opened']}, "
          f"closed by serve {p['slow_closed_by_server']}, open (median at a probe) {p['slow_connections_open_median']}, "
          f"connect errors {p['slow_connect_errors']}; serve CPU {cpu / tick:.2f} s")
    check(p["probes"] > 0 and p["probes_answered"] == p["probes"],
          f"{name}: every probe answered (failures: {p['probe_failures']})")
    check(p["probe_ms_max"] is not None and p["probe_ms_max"] <= probe_max,
          f"{name}: probe max {p['probe_ms_max']} ms ≤ {probe_max:g} ms")
cpu_pct = 100 * cpu_fd / tick / (c1 - c0)
check(cpu_pct <= cpu_max, f"out of fds: serve used {cpu_pct:.1f} % of a core over {c1 - c0:.1f} s (≤ {cpu_max:g} %)")
sys.exit(1 if fails else 0)
PY
