// SPDX-License-Identifier: GPL-2.0
/*
 * buddyctl - look inside /dev/buddy heaps.
 *
 *   buddyctl info                  the device's geometry (INFO ioctl on a
 *                                  fresh heap) and the module's parameters
 *   buddyctl list                  the live heaps (debugfs)
 *   buddyctl stats [PID|--all]     counters, buddyinfo, fragmentation indices
 *   buddyctl map [PID] [--png F]   a picture of every block of a heap
 *
 * Live heaps are read from debugfs, /sys/kernel/debug/buddy/<tgid>-<id>/
 * (root only); BUDDY_DEBUGFS and BUDDY_DEVICE override the paths.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/buddy.h>

#include "heapmap.h"

#ifndef BUDDYCTL_VERSION
#define BUDDYCTL_VERSION "unknown"
#endif

#define DEFAULT_DEVICE	"/dev/buddy"
#define DEFAULT_DEBUGFS	"/sys/kernel/debug/buddy"
#define SYSFS_MODULE	"/sys/module/buddy"

static const char *prog = "buddyctl";

static const char *device_path(void)
{
	const char *p = getenv("BUDDY_DEVICE");

	return p && *p ? p : DEFAULT_DEVICE;
}

static const char *debugfs_path(void)
{
	const char *p = getenv("BUDDY_DEBUGFS");

	return p && *p ? p : DEFAULT_DEBUGFS;
}

static void human(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)bytes;
	unsigned int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", bytes);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
}

/* Reads a small file whole; NULL (errno set) on failure. */
static char *slurp(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f || !buf) {
		int e = errno;

		free(buf);
		if (f)
			fclose(f);
		errno = e;
		return NULL;
	}
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (cap - len - 1 == 0) {
			char *nb = realloc(buf, cap * 2);

			if (!nb) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = '\0';
	fclose(f);
	return buf;
}

static void chomp(char *s)
{
	size_t n = strlen(s);

	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
}

/* buddyctl info */

static void print_params(void)
{
	char path[512], *v;
	struct dirent *de;
	DIR *d;

	v = slurp(SYSFS_MODULE "/version");
	if (v) {
		chomp(v);
		printf("%-16s %s\n", "module_version:", v);
		free(v);
	}
	d = opendir(SYSFS_MODULE "/parameters");
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), SYSFS_MODULE "/parameters/%s",
			 de->d_name);
		v = slurp(path);
		if (!v)
			continue;
		chomp(v);
		printf("param %-10s %s\n", de->d_name, v);
		free(v);
	}
	closedir(d);
}

static int cmd_info(int argc, char **argv)
{
	struct buddy_info info;
	char a[32], b[32];
	int fd;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "%s: info takes no arguments\n", prog);
		return 2;
	}
	fd = open(device_path(), O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: %s: %s%s\n", prog, device_path(),
			strerror(errno),
			errno == ENOENT ? " (is buddy.ko loaded?)" : "");
		return 1;
	}
	memset(&info, 0, sizeof(info));
	if (ioctl(fd, BUDDY_IOC_INFO, &info)) {
		fprintf(stderr, "%s: BUDDY_IOC_INFO: %s\n", prog, strerror(errno));
		close(fd);
		return 1;
	}
	close(fd);
	printf("%-16s %s\n", "device:", device_path());
	printf("%-16s %u%s\n", "abi_version:", info.abi_version,
	       info.abi_version == BUDDY_ABI_VERSION ? "" :
	       " (buddyctl was built for another version)");
	human(a, sizeof(a), 1ULL << info.grain_shift);
	printf("%-16s %s (grain_shift %u)\n", "grain:", a, info.grain_shift);
	human(a, sizeof(a), 1ULL << (info.grain_shift + info.max_order));
	printf("%-16s %u (largest block %s)\n", "max_order:", info.max_order, a);
	printf("%-16s %u\n", "batch_max:", info.batch_max);
	human(a, sizeof(a), info.window_bytes);
	human(b, sizeof(b), info.cap_bytes);
	printf("%-16s %" PRIu64 " (%s)\n", "window_bytes:",
	       (uint64_t)info.window_bytes, a);
	printf("%-16s %" PRIu64 " (%s)\n", "cap_bytes:",
	       (uint64_t)info.cap_bytes, b);
	printf("%-16s %#" PRIx64 "%s%s%s\n", "features:",
	       (uint64_t)info.features,
	       info.features & BUDDY_FEATURE_BATCH ? " batch" : "",
	       info.features & BUDDY_FEATURE_CLONE ? " clone" : "",
	       info.features & BUDDY_FEATURE_DEBUGFS ? " debugfs" : "");
	printf("%-16s %" PRIu64 " (debugfs %s/%d-%" PRIu64 " while open)\n",
	       "heap_id:", (uint64_t)info.heap_id, debugfs_path(),
	       (int)getpid(), (uint64_t)info.heap_id);
	print_params();
	return 0;
}

/* Heaps in debugfs */

struct heap_name {
	long tgid;
	unsigned long long id;
	char name[256];
};

static int parse_heap_name(const char *s, long *tgid, unsigned long long *id)
{
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	*tgid = strtol(s, &end, 10);
	if (*end != '-' || !isdigit((unsigned char)end[1]))
		return -1;
	s = end + 1;
	*id = strtoull(s, &end, 10);
	return *end ? -1 : 0;
}

static int cmp_heap(const void *a, const void *b)
{
	const struct heap_name *x = a, *y = b;

	if (x->tgid != y->tgid)
		return x->tgid < y->tgid ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

static void debugfs_hint(int err)
{
	if (err == ENOENT)
		fprintf(stderr,
			"%s: is buddy.ko loaded and debugfs mounted (mount -t debugfs none /sys/kernel/debug)?\n",
			prog);
	else if (err == EACCES || err == EPERM)
		fprintf(stderr, "%s: debugfs is readable by root only\n", prog);
}

/*
 * Heaps matching @sel: NULL (all), "PID" or "PID-ID".  Returns the count
 * (array in *out, sorted) or -1 after printing an error.
 */
static int find_heaps(const char *sel, struct heap_name **out)
{
	long want_tgid = -1, tgid;
	unsigned long long want_id = 0, id;
	int want_exact = 0, n = 0, cap = 0;
	struct heap_name *v = NULL;
	struct dirent *de;
	DIR *d;

	if (sel) {
		char *end;

		if (!parse_heap_name(sel, &want_tgid, &want_id)) {
			want_exact = 1;
		} else {
			want_tgid = strtol(sel, &end, 10);
			if (!*sel || *end || want_tgid <= 0) {
				fprintf(stderr, "%s: '%s' is not a PID or PID-ID\n",
					prog, sel);
				return -1;
			}
		}
	}
	d = opendir(debugfs_path());
	if (!d) {
		int e = errno;

		fprintf(stderr, "%s: %s: %s\n", prog, debugfs_path(), strerror(e));
		debugfs_hint(e);
		return -1;
	}
	while ((de = readdir(d))) {
		if (parse_heap_name(de->d_name, &tgid, &id))
			continue;
		if (sel && (tgid != want_tgid || (want_exact && id != want_id)))
			continue;
		if (n == cap) {
			struct heap_name *nv;

			cap = cap ? 2 * cap : 16;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if (!nv) {
				free(v);
				closedir(d);
				fprintf(stderr, "%s: out of memory\n", prog);
				return -1;
			}
			v = nv;
		}
		v[n].tgid = tgid;
		v[n].id = id;
		snprintf(v[n].name, sizeof(v[n].name), "%s", de->d_name);
		n++;
	}
	closedir(d);
	if (n)
		qsort(v, (size_t)n, sizeof(*v), cmp_heap);
	*out = v;
	return n;
}

static void comm_of(long tgid, char *buf, size_t len)
{
	char path[64], *c;

	snprintf(path, sizeof(path), "/proc/%ld/comm", tgid);
	c = slurp(path);
	if (!c) {
		snprintf(buf, len, "?");
		return;
	}
	chomp(c);
	snprintf(buf, len, "%s", c);
	free(c);
}

static char *heap_file(const struct heap_name *h, const char *file)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s/%s", debugfs_path(), h->name, file);
	return slurp(path);
}

static int cmd_list(int argc, char **argv)
{
	struct heap_name *v = NULL;
	char comm[64];
	int n, i;

	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "%s: list takes no arguments\n", prog);
		return 2;
	}
	n = find_heaps(NULL, &v);
	if (n < 0)
		return 1;
	printf("%-16s %-8s %s\n", "HEAP", "PID", "COMM");
	for (i = 0; i < n; i++) {
		comm_of(v[i].tgid, comm, sizeof(comm));
		printf("%-16s %-8ld %s\n", v[i].name, v[i].tgid, comm);
	}
	free(v);
	return 0;
}

/* buddyctl stats */

#define MAX_VALS (HM_MAX_ORDER + 1)

/*
 * Per-order values of a buddyinfo or index file: "heap <id>" then one value
 * per order, as buddy_debugfs.c writes them.  Other labels are tolerated: the
 * values are the numeric tokens after the last word (and after the id that
 * follows "heap").
 */
static int parse_orders(char *text, double *vals)
{
	char *save = NULL, *tok, *end;
	int n = 0, skip = 0;
	double v;

	for (tok = strtok_r(text, " \t\n", &save); tok;
	     tok = strtok_r(NULL, " \t\n", &save)) {
		if (skip) {
			skip = 0;
			continue;
		}
		v = strtod(tok, &end);
		if (end == tok || *end) {
			n = 0;
			skip = !strcmp(tok, "heap");
			continue;
		}
		if (n < MAX_VALS)
			vals[n++] = v;
	}
	return n;
}

static void print_order_table(const char *label, const double *v, int n,
			      int decimals)
{
	int i;

	printf("  %-14s", label);
	for (i = 0; i < n; i++)
		printf("%7.*f", decimals, v[i]);
	putchar('\n');
}

static void print_stats_kv(char *text)
{
	char *save = NULL, *line;

	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char key[128], val[128], h[32];
		unsigned long long u;
		char *end;

		if (sscanf(line, " %127[^: \t] %*[:] %127s", key, val) != 2 &&
		    sscanf(line, " %127s %127s", key, val) != 2)
			continue;
		printf("  %-24s %s", key, val);
		u = strtoull(val, &end, 10);
		if (!*end && strstr(key, "bytes")) {
			human(h, sizeof(h), u);
			printf("  (%s)", h);
		}
		putchar('\n');
	}
}

static int show_stats(const struct heap_name *h)
{
	static const char *const idx[] = { "unusable_index", "extfrag_index" };
	double free_blocks[MAX_VALS] = { 0 }, vals[MAX_VALS] = { 0 };
	int n_free = 0, n, i, last = -1;
	char comm[64], *text;

	comm_of(h->tgid, comm, sizeof(comm));
	printf("heap %s (pid %ld, %s)\n", h->name, h->tgid, comm);
	text = heap_file(h, "stats");
	if (!text) {
		fprintf(stderr, "%s: %s/%s/stats: %s\n", prog, debugfs_path(),
			h->name, strerror(errno));
		return -1;
	}
	print_stats_kv(text);
	free(text);

	text = heap_file(h, "buddyinfo");
	if (text) {
		n_free = parse_orders(text, free_blocks);
		free(text);
	}
	for (i = 0; i < n_free; i++)
		if (free_blocks[i] != 0)
			last = i;
	/*
	 * Orders up to one past the largest free block (the first that cannot
	 * be served), at least 12, at most what the heap has.
	 */
	n = last + 2 > 12 ? last + 2 : 12;
	if (n > n_free)
		n = n_free;
	if (n) {
		double ord[MAX_VALS] = { 0 };

		for (i = 0; i < n; i++)
			ord[i] = i;
		print_order_table("order", ord, n, 0);
		print_order_table("free blocks", free_blocks, n, 0);
	}
	for (i = 0; i < 2; i++) {
		int m;

		text = heap_file(h, idx[i]);
		if (!text)
			continue;
		m = parse_orders(text, vals);
		free(text);
		print_order_table(idx[i], vals, m < n || !n ? m : n, 3);
	}
	putchar('\n');
	return 0;
}

static int cmd_stats(int argc, char **argv)
{
	struct heap_name *v = NULL;
	const char *sel = NULL;
	int n, i, rc = 0;

	if (argc > 2) {
		fprintf(stderr, "usage: %s stats [PID|PID-ID|--all]\n", prog);
		return 2;
	}
	if (argc == 2 && strcmp(argv[1], "--all") && strcmp(argv[1], "-a"))
		sel = argv[1];
	n = find_heaps(sel, &v);
	if (n < 0)
		return 1;
	if (!n) {
		fprintf(stderr, "%s: no heaps%s%s\n", prog,
			sel ? " for " : "", sel ? sel : "");
		free(v);
		return 1;
	}
	for (i = 0; i < n; i++)
		if (show_stats(&v[i]))
			rc = 1;
	free(v);
	return rc;
}

/* buddyctl map */

static int term_columns(void)
{
	struct winsize ws;
	const char *c = getenv("COLUMNS");
	long n;

	if (isatty(STDOUT_FILENO) && !ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) &&
	    ws.ws_col)
		return ws.ws_col;
	n = c ? strtol(c, NULL, 10) : 0;
	return n > 0 && n < 100000 ? (int)n : 128;
}

static void map_usage(FILE *f)
{
	fprintf(f, "usage: %s map [PID|PID-ID] [--file MAP] [--png FILE]\n"
		"       [--width N] [--height N] [--color auto|always|never] [--legend|--no-legend]\n",
		prog);
}

static int cmd_map(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "png", required_argument, NULL, 'p' },
		{ "file", required_argument, NULL, 'f' },
		{ "width", required_argument, NULL, 'w' },
		{ "height", required_argument, NULL, 'H' },
		{ "color", required_argument, NULL, 'c' },
		{ "colour", required_argument, NULL, 'c' },
		{ "no-legend", no_argument, NULL, 'L' },
		{ "legend", no_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *png = NULL, *file = NULL, *color = "auto";
	unsigned long width = 0, height = 0;
	int legend = 1, png_legend = 0, c, rc = 1;
	struct hm_raster r;
	struct hm_map m;
	char err[256], path[1024];
	FILE *f;

	optind = 1;
	while ((c = getopt_long(argc, argv, "p:f:w:H:c:Llh", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			png = optarg;
			break;
		case 'f':
			file = optarg;
			break;
		case 'w':
			width = strtoul(optarg, NULL, 10);
			break;
		case 'H':
			height = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			color = optarg;
			break;
		case 'L':
			legend = 0;
			break;
		case 'l':
			png_legend = 1;
			break;
		case 'h':
			map_usage(stdout);
			return 0;
		default:
			map_usage(stderr);
			return 2;
		}
	}
	if (argc - optind > 1 || (file && argc - optind > 0)) {
		map_usage(stderr);
		return 2;
	}
	if (!color || (strcmp(color, "auto") && strcmp(color, "always") &&
		       strcmp(color, "never"))) {
		map_usage(stderr);
		return 2;
	}

	if (file) {
		snprintf(path, sizeof(path), "%s", file);
	} else {
		struct heap_name *v = NULL;
		const char *sel = optind < argc ? argv[optind] : NULL;
		int n = find_heaps(sel, &v), i;

		if (n < 0)
			return 1;
		if (n != 1) {
			fprintf(stderr, "%s: %s heaps%s%s%s\n", prog,
				n ? "several" : "no", sel ? " for " : "",
				sel ? sel : "", n ? "; pick one as PID-ID:" : "");
			for (i = 0; i < n; i++)
				fprintf(stderr, "  %s\n", v[i].name);
			free(v);
			return 1;
		}
		snprintf(path, sizeof(path), "%s/%s/map", debugfs_path(), v[0].name);
		free(v);
	}

	f = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!f) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	hm_map_init(&m);
	if (hm_map_parse(f, &m, !!file, err, sizeof(err))) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, err);
		goto out;
	}
	if (m.dropped)
		fprintf(stderr, "%s: %zu blocks left out: the heap changed while it was read\n",
			prog, m.dropped);
	if (!m.nr) {
		fprintf(stderr, "%s: %s: the heap has no blocks\n", prog, path);
		goto out;
	}
	if (png) {
		if (hm_render(&m, width ? (unsigned int)width : 512,
			      (unsigned int)height, 1, &r)) {
			fprintf(stderr, "%s: cannot render the map\n", prog);
			goto out;
		}
		if (png_legend && hm_add_legend(&m, &r)) {
			fprintf(stderr, "%s: out of memory\n", prog);
			hm_raster_free(&r);
			goto out;
		}
		if (hm_write_png(png, &r, err, sizeof(err))) {
			fprintf(stderr, "%s: %s\n", prog, err);
			hm_raster_free(&r);
			goto out;
		}
		printf("%s: %ux%u pixels, %zu blocks\n", png, r.width, r.height,
		       m.nr);
		hm_raster_free(&r);
	} else {
		int col = !strcmp(color, "always") ||
			  (!strcmp(color, "auto") && isatty(STDOUT_FILENO) &&
			   !getenv("NO_COLOR"));
		unsigned long w = width ? width : (unsigned long)term_columns() / 2;

		if (hm_render(&m, w ? (unsigned int)w : 1, (unsigned int)height,
			      0, &r)) {
			fprintf(stderr, "%s: cannot render the map\n", prog);
			goto out;
		}
		hm_print_text(stdout, &r, col);
		if (legend)
			hm_print_legend(stdout, &m, col);
		hm_raster_free(&r);
	}
	rc = 0;
out:
	hm_map_free(&m);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* Command line */

static void print_usage(FILE *f)
{
	fprintf(f,
		"usage: %s COMMAND [ARGS]\n"
		"  info                         geometry of a fresh /dev/buddy heap, module parameters\n"
		"  list                         live heaps (debugfs, root)\n"
		"  stats [PID|PID-ID|--all]     counters, buddyinfo, fragmentation indices\n"
		"  map [PID|PID-ID] [--png FILE] [--file MAP] [--width N] [--height N]\n"
		"      [--color auto|always|never] [--legend|--no-legend]\n"
		"                               every block, coloured by state and order\n"
		"  --version                    print the version\n"
		"Environment: BUDDY_DEVICE (default " DEFAULT_DEVICE "),\n"
		"             BUDDY_DEBUGFS (default " DEFAULT_DEBUGFS ")\n",
		prog);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		print_usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
	    !strcmp(argv[1], "help")) {
		print_usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
		printf("buddyctl %s (ABI %d)\n", BUDDYCTL_VERSION, BUDDY_ABI_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "info"))
		return cmd_info(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return cmd_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argc - 1, argv + 1);
	if (!strcmp(argv[1], "map"))
		return cmd_map(argc - 1, argv + 1);
	fprintf(stderr, "%s: unknown command '%s'\n", prog, argv[1]);
	print_usage(stderr);
	return 2;
}
