#!/bin/sh
# SPDX-License-Identifier: MIT
# fuzz-long.sh TARGET SECONDS: runs build/fuzz/fuzz_TARGET for SECONDS on its own corpus
# (build/fuzz/long/TARGET, started from the committed seeds), then merges what it found into
# tests/fuzz/corpus/TARGET: only inputs that add coverage are kept (libFuzzer -merge=1), under
# their SHA-1 names. Crashes go to build/fuzz/TARGET-crash-*. Prints one summary line; the
# whole output is in build/fuzz/long/TARGET.log, the covered functions and lines in
# build/fuzz/long/TARGET.coverage (-print_coverage=1 on the merged corpus).
set -u
t="$1"
secs="$2"
f="build/fuzz/fuzz_$t"
work="build/fuzz/long/$t"
log="build/fuzz/long/$t.log"
mkdir -p "$work" "tests/fuzz/corpus/$t"
before=$(ls "tests/fuzz/corpus/$t" | wc -l)
start=$(date +%s)
"$f" -max_total_time="$secs" -print_final_stats=1 -artifact_prefix="build/fuzz/$t-" \
	"$work" "tests/fuzz/corpus/$t" >"$log" 2>&1
rc=$?
"$f" -merge=1 "tests/fuzz/corpus/$t" "$work" >>"$log" 2>&1
"$f" -runs=0 -print_coverage=1 "tests/fuzz/corpus/$t" >"build/fuzz/long/$t.coverage" 2>&1
after=$(ls "tests/fuzz/corpus/$t" | wc -l)
cov=$(grep -E '^#[0-9]+.*(DONE|INITED)' "$log" | tail -1 | sed 's/.*\(cov: [0-9]*\).*\(ft: [0-9]*\).*/\1 \2/')
execs=$(grep -E '^stat::number_of_executed_units' "$log" | awk '{print $2}')
echo "fuzz-long: $t: $(( $(date +%s) - start )) s, ${execs:-?} runs, ${cov:-?}," \
	"corpus $before -> $after, exit $rc"
exit $rc
