#!/bin/bash
# Interleaved A/B timing of two builds of the simulator bench (BENCHMARKS.md, "Seventh pass").
#
#   cargo bench --bench simulator --no-run        # note the binary, copy it to /tmp/a; change,
#   cp target/release/deps/simulator-<hash> /tmp/a  # rebuild, copy to /tmp/b, then:
#   bash benches/ab.sh /tmp/a /tmp/b [ROUNDS] [COPIES]
#
# Copies each binary COPIES times (default 4) to fresh files, then runs
# `RATELAB_BENCH=ratio RATELAB_BENCH_REPEAT=3 <copy> --bench` once for every copy of A and B in
# each of ROUNDS rounds (default 3), A and B taking turns to go first. For each build it prints
# ratelab's wall time (each run's median of 3): the median over all runs, the lowest and highest
# of the copies' medians, and the minimum; then the median of the in-run ratio to the hand loop.
# A run that fails stops the script with its error output.
#
# Why copies: on these shared VMs the same binary runs at different speeds depending on the file
# it is run from, for minutes at a time (two byte-identical copies measured 123 and 155 ms in the
# same interleaved rounds, and a copy that was slow turned fast later). A single copy per build
# can show a difference of 5-25 % that is not in the code. Compare the medians over all copies;
# repeat at another time before believing a few percent.
#
# Build A and B with one codegen unit as well (BENCHMARKS.md, "Sixth pass"): with the default 16,
# an unrelated change can move ratelab by about 5 % through what gets inlined where:
#   CARGO_TARGET_DIR=/tmp/ab-target CARGO_PROFILE_BENCH_CODEGEN_UNITS=1 \
#     cargo bench --bench simulator --no-run
set -euo pipefail
a=$1 b=$2 rounds=${3:-3} copies=${4:-4}
if ! [[ $rounds =~ ^[1-9][0-9]*$ && $copies =~ ^[1-9][0-9]*$ ]]; then
  echo "ab.sh: ROUNDS and COPIES must be whole numbers from 1 (got '$rounds' and '$copies')" >&2
  exit 2
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for x in a b; do
  for i in $(seq "$copies"); do
    cp "${!x}" "$dir/$x$i"
  done
done
runs=$dir/runs
: >"$runs"
for round in $(seq "$rounds"); do
  order="a b"
  if ((round % 2 == 0)); then order="b a"; fi
  for i in $(seq "$copies"); do
    for x in $order; do
      if ! RATELAB_BENCH=ratio RATELAB_BENCH_REPEAT=3 "$dir/$x$i" --bench >"$dir/out" 2>"$dir/err"; then
        echo "ab.sh: ${!x} (copy $i) failed:" >&2
        cat "$dir/err" >&2
        exit 1
      fi
      row=$(awk -v build="$x" -v copy="$i" '
        /^ratelab / { ms = $8; sub("ms", "", ms) }
        /ratelab is/ { for (k = 1; k <= NF; k++) if ($k == "is") { r = $(k + 1); sub("x", "", r) } }
        END { if (ms != "" && r != "") print build, copy, ms, r }' "$dir/out")
      if [[ -z $row ]]; then
        echo "ab.sh: no timing in the output of ${!x} (copy $i):" >&2
        cat "$dir/out" >&2
        exit 1
      fi
      echo "$row" >>"$runs"
    done
  done
done
# The median (the mean of the two middle values for an even count).
median() { sort -g | awk '{ v[NR] = $1 } END { m = (NR + 1) / 2; print (v[int(m)] + v[int(m + 0.5)]) / 2 }'; }
for x in a b; do
  ms_all=$(awk -v b=$x '$1 == b { print $3 }' "$runs" | median)
  ms_min=$(awk -v b=$x '$1 == b { print $3 }' "$runs" | sort -g | head -1)
  r_all=$(awk -v b=$x '$1 == b { print $4 }' "$runs" | median)
  per_copy=$(for i in $(seq "$copies"); do
    awk -v b=$x -v c="$i" '$1 == b && $2 == c { print $3 }' "$runs" | median
  done | sort -g)
  lo=$(head -1 <<<"$per_copy") hi=$(tail -1 <<<"$per_copy")
  echo "$x (${!x}): ratelab median $ms_all ms (copies' medians $lo-$hi ms, min $ms_min ms);" \
    "ratio to the hand loop, median ${r_all}x"
done
