# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# bench/lib.sh - shared by bench/run (host) and bench/guest (QEMU guest);
# sourced, not run.
#
# Raw results are lines
#	S <section> <alloc> <round> <metric> <value> <unit>
#	E <section> <alloc> <round> <what> <exit status>
# which bench/report turns into medians, ratios, the table and the chart.

# matrix SECTION ROUNDS "WORKLOAD ARGS"... -- NAME=CMD...
# Runs every workload under every allocator, ROUNDS times.  Within a round
# the allocators of one workload run back to back, in an order that rotates
# from round to round, so a ratio compares runs made seconds apart.
# CMD is a command prefix (words split on spaces) the workload is appended
# to, e.g. "env LD_PRELOAD=... build/bench/bench-glibc".
matrix() {
	local section=$1 rounds=$2 r i n w spec name cmd out rc
	shift 2
	local -a works=() allocs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do works+=("$1"); shift; done
	shift
	allocs=("$@")
	n=${#allocs[@]}
	for ((r = 1; r <= rounds; r++)); do
		for w in "${works[@]}"; do
			for ((i = 0; i < n; i++)); do
				spec=${allocs[$(((i + r) % n))]}
				name=${spec%%=*} cmd=${spec#*=}
				# shellcheck disable=SC2086
				out=$($cmd $w 2>&1)
				rc=$?
				if [ $rc -ne 0 ] || ! grep -q '^SAMPLE ' <<<"$out"; then
					echo "E $section $name $r ${w%% *} $rc"
					# shellcheck disable=SC2001
					sed 's/^/#   /' <<<"$out" | tail -n 5 >&2
					continue
				fi
				sed -n "s/^SAMPLE /S $section $name $r /p" <<<"$out"
			done
		done
	done
}

# walltime SECTION ROUNDS METRIC INPUT -- NAME=PREFIX... -- CMD...
# Wall time (seconds) of CMD (stdin from INPUT, stdout discarded) under
# each prefix (e.g. "env LD_PRELOAD=..."), rotated as in matrix().
walltime() {
	local section=$1 rounds=$2 metric=$3 input=$4 r i n spec name pre t0 t1 rc
	shift 5
	local -a allocs=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do allocs+=("$1"); shift; done
	shift
	n=${#allocs[@]}
	for ((r = 1; r <= rounds; r++)); do
		for ((i = 0; i < n; i++)); do
			spec=${allocs[$(((i + r) % n))]}
			name=${spec%%=*} pre=${spec#*=}
			t0=$EPOCHREALTIME
			# shellcheck disable=SC2086
			$pre "$@" <"$input" >/dev/null 2>"${BENCH_TMP:-/tmp}/walltime.err"
			rc=$?
			t1=$EPOCHREALTIME
			if [ $rc -ne 0 ]; then
				echo "E $section $name $r $metric $rc"
				tail -n 5 "${BENCH_TMP:-/tmp}/walltime.err" | sed 's/^/#   /' >&2
				continue
			fi
			echo "S $section $name $r $metric $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }') s"
		done
	done
}
