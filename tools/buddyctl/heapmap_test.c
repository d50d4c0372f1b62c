// SPDX-License-Identifier: GPL-2.0
/*
 * heapmap_test - host unit test of buddyctl's heap-map renderer on
 * synthetic maps: layout, scaling, colours, borders, the PNG written and
 * read back with libpng, the text picture and the parser's checks.
 *
 *   heapmap_test DIR      (PNG files are written into DIR)
 *
 * Ends with "N passed, M failed".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "heapmap.h"

static int passed, failed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		passed++;						\
	} else {							\
		failed++;						\
		printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);	\
		printf(__VA_ARGS__);					\
		putchar('\n');						\
	}								\
} while (0)

static int same(struct hm_rgb a, struct hm_rgb b)
{
	return a.r == b.r && a.g == b.g && a.b == b.b;
}

static struct hm_rgb px(const struct hm_raster *r, unsigned int x,
			unsigned int y)
{
	return r->px[y * r->width + x].rgb;
}

static void add(struct hm_map *m, uint64_t off, unsigned int order,
		enum hm_state st)
{
	char err[128];

	if (hm_map_add(m, off, order, st, err, sizeof(err))) {
		printf("FAIL adding a block: %s\n", err);
		failed++;
	}
}

static int parse_str(const char *text, struct hm_map *m, char *err, size_t len)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	int rc;

	if (!f)
		return -2;
	rc = hm_map_parse(f, m, 1, err, len);
	fclose(f);
	return rc;
}

/* Reads a PNG back as RGB; returns the pixel buffer (caller frees). */
static uint8_t *read_png(const char *path, unsigned int *w, unsigned int *h)
{
	png_image img;
	uint8_t *buf;

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&img, path))
		return NULL;
	img.format = PNG_FORMAT_RGB;
	buf = malloc(PNG_IMAGE_SIZE(img));
	if (!buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
		free(buf);
		png_image_free(&img);
		return NULL;
	}
	*w = img.width;
	*h = img.height;
	return buf;
}

/* Distinct colours of an RGB buffer, at most @max. */
static size_t distinct(const uint8_t *buf, size_t npx, struct hm_rgb *out,
		       size_t max)
{
	size_t n = 0, i, j;

	for (i = 0; i < npx; i++) {
		struct hm_rgb c = { buf[3 * i], buf[3 * i + 1], buf[3 * i + 2] };

		for (j = 0; j < n; j++)
			if (same(out[j], c))
				break;
		if (j == n && n < max)
			out[n++] = c;
	}
	return n;
}

static int in_set(struct hm_rgb c, const struct hm_rgb *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (same(c, set[i]))
			return 1;
	return 0;
}

/*
 * A 4 KiB chunk (order 8, 256 grains: a 16 x 16 grain square) zoomed to
 * 512 x 512: every grain is 32 x 32 pixels.
 */
static void test_zoomed(const char *dir)
{
	struct hm_rgb want[6], got[16];
	struct hm_raster r;
	struct hm_map m;
	char path[512], err[128];
	unsigned int w, h, i;
	uint8_t *buf;
	size_t n;

	hm_map_init(&m);
	add(&m, 0, 4, HM_ALLOCATED);	/* grains 0..15: 4x4 at (0,0) */
	add(&m, 256, 4, HM_FREE);	/* grain 16: x=4, y=0 */
	add(&m, 512, 5, HM_FREE);	/* grain 32: 8x4 at (0,4) */
	add(&m, 1024, 6, HM_ALLOCATED);	/* grain 64: 8x8 at (8,0) */
	add(&m, 2048, 7, HM_FREE);	/* grain 128: 16x8 at (0,8) */

	CHECK(!hm_render(&m, 512, 0, 1, &r), "render");
	CHECK(r.width == 512 && r.height == 512, "size %ux%u", r.width, r.height);
	CHECK(r.range_order == 8 && r.zoom_shift == 5, "R=%u z=%d",
	      r.range_order, r.zoom_shift);
	CHECK(same(px(&r, 10, 10), hm_color(HM_ALLOCATED, 4)), "alloc o4");
	CHECK(same(px(&r, 127, 10), HM_RGB_BORDER), "right border");
	CHECK(same(px(&r, 10, 127), HM_RGB_BORDER), "bottom border");
	CHECK(same(px(&r, 200, 50), hm_color(HM_FREE, 4)), "free o4");
	CHECK(same(px(&r, 100, 200), hm_color(HM_FREE, 5)), "free o5");
	CHECK(same(px(&r, 400, 100), hm_color(HM_ALLOCATED, 6)), "alloc o6");
	CHECK(same(px(&r, 300, 400), hm_color(HM_FREE, 7)), "free o7");
	CHECK(r.px[0].block_start && r.px[0].order == 4, "block start");

	snprintf(path, sizeof(path), "%s/zoomed.png", dir);
	CHECK(!hm_write_png(path, &r, err, sizeof(err)), "write: %s", err);
	buf = read_png(path, &w, &h);
	CHECK(buf, "read back %s", path);
	if (buf) {
		CHECK(w == 512 && h == 512, "png size %ux%u", w, h);
		want[0] = hm_color(HM_ALLOCATED, 4);
		want[1] = hm_color(HM_FREE, 4);
		want[2] = hm_color(HM_FREE, 5);
		want[3] = hm_color(HM_ALLOCATED, 6);
		want[4] = hm_color(HM_FREE, 7);
		want[5] = HM_RGB_BORDER;
		n = distinct(buf, (size_t)w * h, got, 16);
		CHECK(n == 6, "%zu distinct colours", n);
		for (i = 0; i < n; i++)
			CHECK(in_set(got[i], want, 6), "colour %u,%u,%u",
			      got[i].r, got[i].g, got[i].b);
		/* The same pixels as the raster. */
		CHECK(!memcmp(&buf[3 * (10 * 512 + 400)],
			      &r.px[10 * 512 + 400].rgb, 3), "pixel matches");
		free(buf);
	}
	hm_raster_free(&r);
	hm_map_free(&m);
}

/* 64 KiB range (4096 grains, 64 x 64) shrunk to 16 x 16: 16 grains a pixel. */
static void test_shrunk(const char *dir)
{
	struct hm_rgb a3 = hm_color(HM_ALLOCATED, 3), f3 = hm_color(HM_FREE, 3);
	struct hm_rgb f0 = hm_color(HM_FREE, 0), u = HM_RGB_UNMAPPED, c;
	struct hm_raster r;
	struct hm_map m;
	char path[512], err[128];
	unsigned int w, h;
	uint8_t *buf;

	hm_map_init(&m);
	add(&m, 0, 3, HM_ALLOCATED);	/* half of pixel (0,0) */
	add(&m, 128, 3, HM_FREE);	/* the other half */
	add(&m, 256, 4, HM_ALLOCATED);	/* pixel (1,0) */
	add(&m, 65536 - 16, 0, HM_FREE);	/* 1/16 of pixel (15,15) */

	CHECK(!hm_render(&m, 16, 0, 1, &r), "render");
	CHECK(r.width == 16 && r.height == 16, "size %ux%u", r.width, r.height);
	CHECK(r.zoom_shift == -2, "z=%d", r.zoom_shift);
	c = px(&r, 0, 0);
	CHECK(c.r == (a3.r + f3.r + 1) / 2 && c.g == (a3.g + f3.g + 1) / 2 &&
	      c.b == (a3.b + f3.b + 1) / 2, "mean %u,%u,%u", c.r, c.g, c.b);
	CHECK(r.px[0].order == -1, "mixed pixel has no order");
	CHECK(same(px(&r, 1, 0), hm_color(HM_ALLOCATED, 4)), "alloc o4 pixel");
	CHECK(same(px(&r, 2, 0), u), "unmapped");
	c = px(&r, 15, 15);
	CHECK(c.r == (f0.r + 15 * u.r + 8) / 16 && c.g == (f0.g + 15 * u.g + 8) / 16,
	      "1/16 free %u,%u,%u", c.r, c.g, c.b);

	snprintf(path, sizeof(path), "%s/shrunk.png", dir);
	CHECK(!hm_write_png(path, &r, err, sizeof(err)), "write: %s", err);
	buf = read_png(path, &w, &h);
	CHECK(buf && w == 16 && h == 16, "png 16x16");
	if (buf)
		CHECK(!memcmp(buf + 3 * 17, &r.px[17].rgb, 3), "unmapped pixel");
	free(buf);
	hm_raster_free(&r);

	/* A height limit halves the zoom. */
	CHECK(!hm_render(&m, 64, 8, 0, &r), "render");
	CHECK(r.width == 8 && r.height == 8, "limited %ux%u", r.width, r.height);
	hm_raster_free(&r);
	hm_map_free(&m);
}

/* An odd range order gives a 2:1 picture. */
static void test_odd(void)
{
	struct hm_raster r;
	struct hm_map m;

	hm_map_init(&m);
	add(&m, 0, 9, HM_FREE);		/* 8 KiB: 32 x 16 grains */
	CHECK(!hm_render(&m, 512, 0, 1, &r), "render");
	CHECK(r.width == 512 && r.height == 256, "size %ux%u", r.width, r.height);
	CHECK(same(px(&r, 0, 0), hm_color(HM_FREE, 9)), "free o9");
	CHECK(same(px(&r, 511, 0), HM_RGB_BORDER), "border");
	hm_raster_free(&r);
	/* Width not a power of two: the largest power below. */
	CHECK(!hm_render(&m, 100, 0, 0, &r), "render");
	CHECK(r.width == 64 && r.height == 32, "size %ux%u", r.width, r.height);
	hm_raster_free(&r);
	hm_map_free(&m);
}

static void test_legend(const char *dir)
{
	struct hm_raster r;
	struct hm_map m;
	char path[512], err[128];

	hm_map_init(&m);
	add(&m, 0, 4, HM_ALLOCATED);
	add(&m, 256, 4, HM_FREE);
	add(&m, 512, 5, HM_FREE);
	add(&m, 1024, 6, HM_ALLOCATED);
	add(&m, 2048, 7, HM_FREE);
	CHECK(!hm_render(&m, 256, 0, 1, &r), "render");
	CHECK(!hm_add_legend(&m, &r), "legend");
	CHECK(r.width == 256 && r.height == 256 + HM_LEGEND_HEIGHT, "size %ux%u",
	      r.width, r.height);
	/* Swatches: allocated orders 4, 6 in the first row, free 4, 5, 7 in
	 * the second; their left columns carry no digit.
	 */
	CHECK(same(px(&r, 14, 256 + 4), hm_color(HM_ALLOCATED, 4)), "swatch a4");
	CHECK(same(px(&r, 34, 256 + 4), hm_color(HM_ALLOCATED, 6)), "swatch a6");
	CHECK(same(px(&r, 54, 256 + 4), HM_RGB_LEGEND_BG), "two allocated orders");
	CHECK(same(px(&r, 14, 256 + 22), hm_color(HM_FREE, 4)), "swatch f4");
	CHECK(same(px(&r, 34, 256 + 22), hm_color(HM_FREE, 5)), "swatch f5");
	CHECK(same(px(&r, 54, 256 + 22), hm_color(HM_FREE, 7)), "swatch f7");
	CHECK(same(px(&r, 0, 256), HM_RGB_LEGEND_BG), "background");
	/* The map above is unchanged. */
	CHECK(same(px(&r, 10, 10), hm_color(HM_ALLOCATED, 4)), "map kept");
	snprintf(path, sizeof(path), "%s/legend.png", dir);
	CHECK(!hm_write_png(path, &r, err, sizeof(err)), "write: %s", err);
	hm_raster_free(&r);
	hm_map_free(&m);
}

static void test_colors(void)
{
	unsigned int o, p, clash = 0;

	/* Every order up to 24 has its own colour, per state, and no state
	 * colour is the unmapped or border colour.
	 */
	for (o = 0; o <= 24; o++) {
		for (p = 0; p < o; p++)
			clash += same(hm_color(HM_FREE, o), hm_color(HM_FREE, p)) +
				 same(hm_color(HM_ALLOCATED, o),
				      hm_color(HM_ALLOCATED, p));
		for (p = 0; p <= 24; p++)
			clash += same(hm_color(HM_FREE, o),
				      hm_color(HM_ALLOCATED, p));
		clash += same(hm_color(HM_FREE, o), HM_RGB_UNMAPPED) +
			 same(hm_color(HM_FREE, o), HM_RGB_BORDER) +
			 same(hm_color(HM_ALLOCATED, o), HM_RGB_UNMAPPED) +
			 same(hm_color(HM_ALLOCATED, o), HM_RGB_BORDER);
	}
	CHECK(clash == 0, "%u colour clashes", clash);
	CHECK(same(hm_color(HM_FREE, 30), hm_color(HM_FREE, 24)), "clamped");
}

static void test_parse(void)
{
	struct hm_map m;
	char err[128];

	hm_map_init(&m);
	CHECK(!parse_str("# offset order state\n0 4 allocated\n0x100 4 free\n"
			 "\n512 5 free\n", &m, err, sizeof(err)), "%s", err);
	CHECK(m.nr == 3 && m.end == 1024, "nr %zu end %llu", m.nr,
	      (unsigned long long)m.end);
	CHECK(m.count[HM_ALLOCATED][4] == 1 && m.count[HM_FREE][4] == 1 &&
	      m.count[HM_FREE][5] == 1, "counts");
	CHECK(m.bytes[HM_ALLOCATED] == 256 && m.bytes[HM_FREE] == 768, "bytes");
	hm_map_free(&m);

	/* The blocks of a trimmed run after its first are allocated memory. */
	CHECK(!parse_str("0 6 allocated\n0x400 4 continued\n0x500 4 free\n"
			 "0x600 5 free\n", &m, err, sizeof(err)), "%s", err);
	CHECK(m.count[HM_ALLOCATED][6] == 1 && m.count[HM_ALLOCATED][4] == 1 &&
	      m.bytes[HM_ALLOCATED] == 1280, "continued: %llu",
	      (unsigned long long)m.bytes[HM_ALLOCATED]);
	hm_map_free(&m);

	/* A header line and unsorted lines are fine. */
	CHECK(!parse_str("offset order state\n256 4 used\n0 4 free\n", &m, err,
			 sizeof(err)), "%s", err);
	CHECK(m.nr == 2 && m.blocks[0].offset == 0 &&
	      m.blocks[1].state == HM_ALLOCATED, "sorted");
	hm_map_free(&m);

	CHECK(parse_str("0 4 free\n16 0 free\n", &m, err, sizeof(err)) == -1 &&
	      strstr(err, "overlap"), "overlap: %s", err);
	hm_map_free(&m);
	{
		static const char text[] = "0 4 free\n16 0 free\n512 0 allocated\n";
		FILE *f = fmemopen((void *)text, strlen(text), "r");

		CHECK(f && !hm_map_parse(f, &m, 0, err, sizeof(err)) &&
		      m.nr == 2 && m.dropped == 1 && m.count[HM_FREE][0] == 0 &&
		      m.bytes[HM_FREE] == 256 && m.end == 528, "lenient");
		if (f)
			fclose(f);
	}
	hm_map_free(&m);
	CHECK(parse_str("16 1 free\n", &m, err, sizeof(err)) == -1 &&
	      strstr(err, "aligned"), "misaligned: %s", err);
	hm_map_free(&m);
	CHECK(parse_str("0 1 bogus\n", &m, err, sizeof(err)) == -1, "state");
	hm_map_free(&m);
	CHECK(parse_str("0 99 free\n", &m, err, sizeof(err)) == -1, "order");
	hm_map_free(&m);
	CHECK(parse_str("0 4 free\nx 1 free\n", &m, err, sizeof(err)) == -1,
	      "offset");
	hm_map_free(&m);
}

static void test_text(void)
{
	struct hm_raster r;
	struct hm_map m;
	char *out = NULL;
	size_t len = 0;
	FILE *f;

	hm_map_init(&m);
	add(&m, 0, 4, HM_ALLOCATED);
	add(&m, 256, 4, HM_FREE);
	add(&m, 512, 5, HM_FREE);
	add(&m, 1024, 6, HM_ALLOCATED);
	add(&m, 2048, 7, HM_FREE);
	CHECK(!hm_render(&m, 16, 0, 0, &r), "render");	/* 1 px per grain */
	f = open_memstream(&out, &len);
	hm_print_text(f, &r, 0);
	fclose(f);
	/* 16 rows of 32 characters; row 0: order-4 allocated block at 0
	 * (4 grains), order-4 free, then the order-6 allocated block.
	 */
	CHECK(out && !strncmp(out, "4#######4.......6###############\n", 33),
	      "row 0: %.33s", out ? out : "");
	CHECK(out && strstr(out, "5.") && strstr(out, "7."), "orders 5, 7");
	free(out);
	out = NULL;
	f = open_memstream(&out, &len);
	hm_print_text(f, &r, 1);
	fclose(f);
	CHECK(out && strstr(out, "\033[48;2;"), "ansi colours");
	free(out);
	out = NULL;
	f = open_memstream(&out, &len);
	hm_print_legend(f, &m, 0);
	fclose(f);
	CHECK(out && !strstr(out, "5 blocks: 1.25 KiB"), "legend");
	CHECK(out && strstr(out, "1280 B allocated"), "legend: %s", out ? out : "");
	free(out);
	hm_raster_free(&r);
	hm_map_free(&m);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : ".";

	test_parse();
	test_colors();
	test_zoomed(dir);
	test_shrunk(dir);
	test_odd();
	test_text();
	test_legend(dir);
	printf("heapmap: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
