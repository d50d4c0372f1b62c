# vm/lib.sh - sourced by the vm/ scripts (never run). Knows which kernels
# the guests boot and where they come from.
#
# A guest kernel is named FLAVOUR[-LINE]:
#   FLAVOUR  stock: Debian's own image, modules and headers;
#            debug: built here from Debian's linux-source (vm/build-debug-kernel)
#   LINE     6.1 (Debian 12's kernel, the default) or 6.12 (Debian 13's LTS,
#            from bookworm-backports)
# e.g. stock, stock-6.12, debug, debug-6.12.
#
# Debian's packages are fetched with a private apt configuration under
# $cache_dir/apt (its own sources list naming the host's mirrors, its own
# lists, state and archives) and unpacked with dpkg-deb into
# $cache_dir/kernels/<release>/root: the host's apt sources, its installed
# packages and what it boots are never touched.

# shellcheck source=../scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib.sh"
vm_dir=$project_dir/vm

kernel_lines=(6.1 6.12)
kernel_names=(stock debug stock-6.12 debug-6.12)

# kernel_parse NAME: sets k_flavour, k_line and k_name (the canonical name:
# "stock-6.1" is "stock"); fails on anything else.
kernel_parse() {
	k_flavour=${1%%-*} k_line=6.1
	case "$1" in *-*) k_line=${1#*-} ;; esac
	case "$k_flavour" in stock|debug) ;; *) return 1 ;; esac
	case " ${kernel_lines[*]} " in *" $k_line "*) ;; *) return 1 ;; esac
	k_name=$k_flavour
	[ "$k_line" = "${kernel_lines[0]}" ] || k_name=$k_flavour-$k_line
}

# The suite whose linux-image-amd64 is the LINE's kernel, on Debian 12.
kernel_suite() {
	case "$1" in
	6.1) echo "bookworm" ;;	# bookworm, -updates or -security: the newest
	6.12) echo "bookworm-backports" ;;
	*) die "unknown kernel line '$1' (${kernel_lines[*]})" ;;
	esac
}

# --- the private apt configuration ------------------------------------------
apt_dir=$cache_dir/apt
apt_opts=(-o "Dir::Etc::SourceList=$apt_dir/sources.list"
	-o "Dir::Etc::SourceParts=$apt_dir/sources.list.d"
	-o "Dir::Etc::Preferences=$apt_dir/preferences"
	-o "Dir::Etc::PreferencesParts=$apt_dir/preferences.d"
	-o "Dir::State=$apt_dir/state" -o "Dir::State::status=$apt_dir/state/status"
	-o "Dir::Cache=$apt_dir/cache" -o "Acquire::Languages=none"
	-o "APT::Architecture=amd64" -o "APT::Architectures::=amd64"
	-o "APT::Sandbox::User=root" -q)

# The host's mirror for a suite ("debian" or "debian-security" archives),
# from its deb822 or one-line sources; Debian's own when it names none.
host_mirror() {	# host_mirror SUITE DEFAULT
	local f uri= srcs=()
	for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] && srcs+=("$f")
	done
	[ ${#srcs[@]} -eq 0 ] || uri=$(awk -v suite="$1" '
		function flush() {
			if (u != "" && (" " s " ") ~ (" " suite " ")) { print u; found = 1; exit }
			u = s = ""
		}
		FNR == 1 { flush() }
		FILENAME ~ /\.sources$/ {
			if ($0 ~ /^[ \t]*$/) flush()
			else if ($1 == "URIs:") u = $2
			else if ($1 == "Suites:") { s = $0; sub(/^Suites: */, "", s) }
			next
		}
		$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i + 1) == suite) { print $i; found = 1; exit }
		}
		END { if (!found) flush() }' "${srcs[@]}" | head -n 1)
	case "$uri" in http://*|https://*|file:/*) echo "${uri%/}" ;; *) echo "$2" ;; esac
}

apt_setup() {
	local main sec keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	mkdir -p "$apt_dir"/{sources.list.d,preferences.d,state/lists/partial,cache/archives/partial}
	[ -e "$apt_dir/state/status" ] || : >"$apt_dir/state/status"
	main=$(host_mirror bookworm http://deb.debian.org/debian)
	sec=$(host_mirror bookworm-security http://deb.debian.org/debian-security)
	cat >"$apt_dir/sources.list.new" <<-EOF
	# buddy-kmod's own view of Debian, for guest kernels only (vm/lib.sh)
	deb [signed-by=$keyring] $main bookworm main
	deb [signed-by=$keyring] $main bookworm-updates main
	deb [signed-by=$keyring] $sec bookworm-security main
	deb [signed-by=$keyring] $main bookworm-backports main
	EOF
	if cmp -s "$apt_dir/sources.list.new" "$apt_dir/sources.list"; then
		rm "$apt_dir/sources.list.new"
	else
		mv "$apt_dir/sources.list.new" "$apt_dir/sources.list"
		rm -f "$apt_dir/updated"
	fi
}

# Refresh the private lists when older than six hours (or missing). Offline,
# old lists serve, and with none the cached kernels still do.  One apt at a
# time: make check's jobs may ask together.
apt_update() {
	(
		flock 7
		apt_update_locked
	) 7>"$cache_dir/.apt.lock"
}
apt_update_locked() {
	apt_setup
	if [ -e "$apt_dir/updated" ] && [ -z "$(find "$apt_dir/updated" -mmin +360)" ]; then
		return 0
	fi
	echo "buddy: refreshing the package lists of the guest kernels ($apt_dir)" >&2
	if apt-get "${apt_opts[@]}" update >"$apt_dir/update.log" 2>&1; then
		touch "$apt_dir/updated"
	else
		echo "buddy: warning: apt-get update for the guest kernels failed (see $apt_dir/update.log)" >&2
		return 1
	fi
}

# kernel_resolve LINE: "RELEASE DEBVERSION" of the line's current kernel,
# e.g. "6.1.0-57-amd64 6.1.192-3", as Debian's linux-image-amd64 names it
# (the ABI number moves; nothing here hard-codes it). Offline: the newest
# kernel of that line already in the cache.
kernel_resolve() {
	local line=$1 suite ver pkg
	suite=$(kernel_suite "$line")
	apt_update || true
	if ls "$apt_dir"/state/lists/*_Packages* >/dev/null 2>&1; then
		# madison: "linux-image-amd64 | VERSION | URI SUITE/main amd64 Packages"
		ver=$(apt-cache "${apt_opts[@]}" madison linux-image-amd64 2>/dev/null |
			awk -F' *[|] *' -v line="$line" -v suite="$suite" '
				index($2, line ".") == 1 && $3 ~ (" " suite "[/-]") { print $2 }' |
			sort -V | tail -n 1)
		if [ -n "$ver" ]; then
			pkg=$(apt-cache "${apt_opts[@]}" show "linux-image-amd64=$ver" |
				sed -n 's/^Depends: \(linux-image-[^ ,]*\).*/\1/p' | head -n 1)
			[ -n "$pkg" ] && { echo "${pkg#linux-image-} $ver"; return 0; }
		fi
	fi
	local d best=
	for d in "$cache_dir"/kernels/*/.done; do
		[ -f "$d" ] || continue
		[ "$(cat "${d%/.done}/line" 2>/dev/null)" = "$line" ] || continue
		best=$(printf '%s\n%s\n' "$best" "$(cat "${d%/.done}/release") $(cat "${d%/.done}/version")" |
			sed '/^$/d' | sort -V -k2 | tail -n 1)
	done
	[ -n "$best" ] || die "cannot find Debian's $line kernel: no package lists ($apt_dir/update.log) and nothing cached"
	echo "$best"
}

# pkg_field PKG=VER FIELD: one field of a package in the private lists.
pkg_field() {
	apt-cache "${apt_opts[@]}" show "$1" | sed -n "s/^$2: //p" | head -n 1
}

# apt_download DIR PKG=VER...: the .deb files into DIR (no dependencies).
apt_download() {
	local dir=$1
	shift
	(cd "$dir" && flock "$cache_dir/.apt.lock" apt-get "${apt_opts[@]}" download "$@" >/dev/null) ||
		die "apt-get download $* failed"
}

# kernel_fetch LINE: Debian's image, modules and headers of the line's
# current kernel unpacked into the cache; prints the kernel's directory,
# which holds root/ (boot/, lib/modules/, usr/src/), release, version, line.
kernel_fetch() {
	local line=$1 rel ver dir tmp deb hdr common kbuild mk
	read -r rel ver < <(kernel_resolve "$line")
	dir=$cache_dir/kernels/$rel
	if [ -f "$dir/.done" ] && [ "$(cat "$dir/version")" = "$ver" ]; then
		echo "$dir"
		return
	fi
	mkdir -p "$cache_dir/kernels"
	exec 8>"$cache_dir/kernels/.lock"
	flock 8
	if [ -f "$dir/.done" ] && [ "$(cat "$dir/version")" = "$ver" ]; then
		exec 8>&-
		echo "$dir"
		return
	fi
	echo "buddy: fetching Debian's kernel $rel ($ver) into $dir" >&2
	tmp=$dir.tmp
	rm -rf "$tmp"
	mkdir -p "$tmp/debs" "$tmp/root"
	hdr=linux-headers-$rel
	# The arch headers name the common headers and kbuild they need.
	common=$(pkg_field "$hdr=$ver" Depends | grep -o 'linux-headers-[^ ,]*-common' | head -n 1)
	kbuild=$(pkg_field "$hdr=$ver" Depends | grep -o 'linux-kbuild-[^ ,]*' | head -n 1)
	[ -n "$common" ] && [ -n "$kbuild" ] || die "cannot tell what $hdr=$ver depends on"
	apt_download "$tmp/debs" "linux-image-$rel=$ver" "$hdr=$ver" "$common=$ver" "$kbuild"
	for deb in "$tmp"/debs/*.deb; do
		dpkg-deb -x "$deb" "$tmp/root"
	done
	# The arch headers' Makefile includes the common ones by absolute path.
	mk=$tmp/root/usr/src/$hdr/Makefile
	sed -i "s|^include /usr/src/|include $dir/root/usr/src/|" "$mk"
	# Debian makes modules.dep in the image's postinst; so does this.
	depmod -b "$tmp/root" "$rel"
	[ -r "$tmp/root/boot/vmlinuz-$rel" ] && [ -f "$tmp/root/lib/modules/$rel/modules.dep" ] ||
		die "the unpacked kernel $rel lacks its vmlinuz or modules.dep"
	rm -rf "$tmp/debs"
	echo "$rel" >"$tmp/release"
	echo "$ver" >"$tmp/version"
	echo "$line" >"$tmp/line"
	rm -rf "$dir"
	mv "$tmp" "$dir"
	touch "$dir/.done"
	exec 8>&-
	echo "$dir"
}

# kernel_source LINE: the linux-source tarball of the line's current kernel
# (the same Debian version as its image), from the cache; prints its path.
kernel_source() {
	local line=$1 rel ver dir tar tmp
	read -r rel ver < <(kernel_resolve "$line")
	dir=$cache_dir/kernels/source-$line-$ver
	tar=$dir/linux-source-$line.tar.xz
	if [ ! -s "$tar" ]; then
		mkdir -p "$cache_dir/kernels"
		exec 8>"$cache_dir/kernels/.lock"
		flock 8
		if [ ! -s "$tar" ]; then
			echo "buddy: fetching linux-source-$line ($ver) into $dir" >&2
			tmp=$dir.tmp
			rm -rf "$tmp"
			mkdir -p "$tmp"
			apt_download "$tmp" "linux-source-$line=$ver"
			dpkg-deb --fsys-tarfile "$tmp"/linux-source-*.deb |
				tar -xO "./usr/src/linux-source-$line.tar.xz" >"$tmp/linux-source-$line.tar.xz"
			rm -f "$tmp"/*.deb
			rm -rf "$dir"
			mv "$tmp" "$dir"
		fi
		exec 8>&-
	fi
	echo "$tar"
}

# kernel_source_files LINE PATH...: those paths of the line's linux-source
# tree (e.g. scripts/checkpatch.pl, tools/testing/kunit), unpacked from its
# tarball into $cache_dir/tools/linux-source-LINE/ unless already there;
# prints that directory.  For the kernel's own tools without a kernel build.
kernel_source_files() {
	local line=$1 dir=$cache_dir/tools/linux-source-$1 src_tar p todo=()
	shift
	for p in "$@"; do
		[ -e "$dir/$p" ] || todo+=("linux-source-$line/$p")
	done
	if [ ${#todo[@]} -gt 0 ]; then
		src_tar=$(kernel_source "$line") || return 1
		mkdir -p "$cache_dir/tools"
		echo "buddy: extracting ${todo[*]} from $src_tar" >&2
		tar -C "$cache_dir/tools" -xJf "$src_tar" "${todo[@]}" >&2 || return 1
	fi
	echo "$dir"
}

# stock_dir LINE: the unpacked stock kernel (see kernel_fetch).
stock_dir() { kernel_fetch "$1"; }

# debug_kdir LINE: the debug kernel's build tree (KDIR, with
# arch/x86/boot/bzImage), building it first if the cache has none.
debug_kdir() {
	local out
	out=$("$vm_dir/build-debug-kernel" "$1") || die "vm/build-debug-kernel $1 failed"
	[ -f "$out/arch/x86/boot/bzImage" ] && [ -f "$out/Makefile" ] ||
		die "no kernel tree with arch/x86/boot/bzImage in $out"
	echo "$out"
}

# kernel_kdir NAME: the build tree modules are built against.
kernel_kdir() {
	local dir
	kernel_parse "$1" || die "unknown kernel '$1' (${kernel_names[*]})"
	if [ "$k_flavour" = stock ]; then
		dir=$(stock_dir "$k_line")
		echo "$dir/root/usr/src/linux-headers-$(cat "$dir/release")"
	else
		debug_kdir "$k_line"
	fi
}

# kernel_release NAME: what `uname -r` says in that guest.
kernel_release() {
	kernel_parse "$1" || die "unknown kernel '$1' (${kernel_names[*]})"
	if [ "$k_flavour" = stock ]; then
		cat "$(stock_dir "$k_line")/release"
	else
		cat "$(debug_kdir "$k_line")/include/config/kernel.release"
	fi
}

# stock_kimage DIR: the image QEMU boots for an unpacked stock kernel.
# Debian's vmlinuz is xz-compressed, and decompressing it under TCG costs
# ~2.5 s per boot; when the kernel supports PVH, QEMU can boot the
# uncompressed ELF directly, so extract it once into the cache. Falls back
# to the vmlinuz.
stock_kimage() {
	local dir=$1 rel img out magic cmd off tmp
	rel=$(cat "$dir/release")
	img=$dir/root/boot/vmlinuz-$rel
	grep -qx 'CONFIG_PVH=y' "$dir/root/boot/config-$rel" || { echo "$img"; return; }
	out=$dir/vmlinux
	if [ ! -s "$out" ]; then
		tmp=$out.tmp.$$
		for magic in '\xfd7zXZ\x00:xz -dc --single-stream' '\x28\xb5\x2f\xfd:zstd -dcq' \
			'\x1f\x8b\x08:gzip -dc'; do
			cmd=${magic#*:}
			command -v "${cmd%% *}" >/dev/null 2>&1 || continue
			for off in $({ LC_ALL=C grep -aboP "${magic%%:*}" "$img" || true; } | cut -d: -f1); do
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
