# Shared by vm/run, vm/build-module and vm/mkinitramfs (sourced, not run).
# Knows where the project is, where caches go, and which kernels "stock" and
# "debug" mean on this machine.

vm_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
project_dir=$(dirname "$vm_dir")

# Caches shared between clones (the debug kernel, initramfs images) live
# outside the checkout; fall back to build/ when /var/cache is not writable.
cache_dir=${BUDDY_CACHE_DIR:-/var/cache/buddy-kmod}
if ! mkdir -p "$cache_dir" 2>/dev/null || [ ! -w "$cache_dir" ]; then
	cache_dir=$project_dir/build/cache
	mkdir -p "$cache_dir"
fi

die() {
	echo "buddy-vm: error: $*" >&2
	exit 125
}

# The Debian kernel to call "stock": the newest installed linux-image-*-amd64
# whose vmlinuz, modules and headers are all present. Prints its version
# (e.g. 6.1.0-56-amd64); installs linux-image-amd64 + headers if none is.
stock_kver() {
	local pkgs ver best=
	pkgs=$(dpkg-query -W -f='${db:Status-Status} ${Package}\n' \
		'linux-image-[0-9]*' 2>/dev/null | awk '$1 == "installed" { print $2 }')
	for ver in $(printf '%s\n' $pkgs | sed -n 's/^linux-image-\(.*-amd64\)\(-unsigned\)\{0,1\}$/\1/p' | sort -uV); do
		[ -r "/boot/vmlinuz-$ver" ] || continue
		[ -f "/lib/modules/$ver/modules.dep" ] || continue
		[ -f "/usr/src/linux-headers-$ver/Makefile" ] || continue
		best=$ver
	done
	if [ -z "$best" ] && [ "${1:-}" != --no-install ]; then
		"$project_dir/scripts/need-pkgs" linux-image-amd64 linux-headers-amd64 >&2 ||
			die "no Debian kernel with headers installed (linux-image-amd64, linux-headers-amd64)"
		stock_kver --no-install
		return
	fi
	[ -n "$best" ] || die "no installed linux-image-*-amd64 has its headers and modules installed"
	echo "$best"
}

# The debug kernel's build tree (KDIR, with arch/x86/boot/bzImage), building
# it first if the cache has none (~15 min, once per config).
debug_kdir() {
	local out dir
	out=$("$vm_dir/build-debug-kernel") || die "vm/build-debug-kernel failed"
	# build-debug-kernel prints its cache directory; the tree is in it (or is it).
	for dir in "$out" "$out"/*/; do
		dir=${dir%/}
		if [ -f "$dir/arch/x86/boot/bzImage" ] && [ -f "$dir/Makefile" ]; then
			echo "$dir"
			return
		fi
	done
	die "no kernel tree with arch/x86/boot/bzImage under $out"
}

# KDIR for a kernel flavour.
kernel_kdir() {
	local ver
	case "$1" in
	stock) ver=$(stock_kver) && echo "/usr/src/linux-headers-$ver" ;;
	debug) debug_kdir ;;
	*) die "unknown kernel '$1' (stock or debug)" ;;
	esac
}

# The image QEMU boots for the stock kernel. Debian's vmlinuz is xz-compressed,
# and decompressing it under TCG costs ~2.5 s per boot; when the kernel
# supports PVH, QEMU can boot the uncompressed ELF directly, so extract it
# once into the cache. Falls back to the vmlinuz.
stock_kimage() {
	local ver=$1 img=/boot/vmlinuz-$1 out magic cmd off tmp
	grep -qx 'CONFIG_PVH=y' "/boot/config-$ver" 2>/dev/null || { echo "$img"; return; }
	out=$cache_dir/vmlinux-$ver-$(sha256sum "$img" | cut -c1-16)
	if [ ! -s "$out" ]; then
		tmp=$out.tmp.$$
		for magic in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -dcq' \
			'\x1f\x8b\x08:gzip -dc'; do
			cmd=${magic#*:}
			command -v "${cmd%% *}" >/dev/null 2>&1 || continue
			for off in $(LC_ALL=C grep -aboP "${magic%%:*}" "$img" | cut -d: -f1); do
				tail -c +$((off + 1)) "$img" | $cmd >"$tmp" 2>/dev/null || true
				if [ "$(head -c4 "$tmp" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then
					mv "$tmp" "$out"
					break 2
				fi
			done
		done
		rm -f "$tmp"
	fi
	if [ -s "$out" ]; then echo "$out"; else echo "$img"; fi
}
