# scripts/lib.sh - sourced (never run) by every bash script of the project.
#
# - No silent death: a command that fails under `set -e` is named, with its
#   script and line, before the script exits (ERR trap, inherited by
#   functions, command substitutions and subshells).
# - die MESSAGE: one line on stderr, exit 125.
# - host_build CMD...: CMD under the lock of the checkout's host builds.
# - cache_dir: where heavy artefacts live, outside the checkout
#   (BUDDY_CACHE_DIR, default /var/cache/buddy-kmod; build/cache when that
#   is not writable).
# - project_dir: the checkout.

project_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)

buddy_err_trap() {
	local rc=$? cmd=$1 line=$2 src=$3
	# Only where errexit makes the failure fatal (a test of a command's
	# status under `set +e` is not an error).
	case $- in *e*) ;; *) return 0 ;; esac
	# The command's first line is enough to find it.
	echo "buddy: error: ${src#"$project_dir"/}:$line: '${cmd%%$'\n'*}' exited with status $rc" >&2
}
set -o errtrace
shopt -s inherit_errexit
trap 'buddy_err_trap "$BASH_COMMAND" "$LINENO" "${BASH_SOURCE[0]:-$0}"' ERR

# host_build CMD...: CMD holding the checkout's build lock.  make check
# runs jobs side by side, and two makes in one tree at once would write the
# same objects.
host_build() {
	mkdir -p "$project_dir/build"
	flock "$project_dir/build/.host-build.lock" "$@"
}

die() {
	echo "buddy: error: $*" >&2
	exit 125
}

cache_dir=${BUDDY_CACHE_DIR:-/var/cache/buddy-kmod}
if ! mkdir -p "$cache_dir" 2>/dev/null || [ ! -w "$cache_dir" ]; then
	cache_dir=$project_dir/build/cache
	mkdir -p "$cache_dir"
fi
