// SPDX-License-Identifier: GPL-2.0
/*
 * pngcheck - check a `buddyctl map --png` picture against the map it came
 * from, with the layout worked out here independently of the renderer:
 *
 *   pngcheck PNG MAP MAX_WIDTH [legend]
 *
 * - the image is MAX_WIDTH (rounded down to a power of two) wide and as
 *   high as the Z-order layout of the map's range says (1:1 or 2:1), plus
 *   HM_LEGEND_HEIGHT with "legend";
 * - the top-left pixel of every block at least one pixel big has the
 *   block's colour (state and order);
 * - when no pixel holds several blocks, every pixel is a block colour,
 *   the border colour or the unmapped colour.
 * Prints one line and exits 0 when all hold.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "heapmap.h"

static int same(const uint8_t *p, struct hm_rgb c)
{
	return p[0] == c.r && p[1] == c.g && p[2] == c.b;
}

static int known(const uint8_t *p)
{
	unsigned int o;

	if (same(p, HM_RGB_BORDER) || same(p, HM_RGB_UNMAPPED))
		return 1;
	for (o = 0; o <= HM_MAX_ORDER; o++)
		if (same(p, hm_color(HM_FREE, o)) ||
		    same(p, hm_color(HM_ALLOCATED, o)))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long maxw, W = 1, gw, gh, want_h, bad = 0, checked = 0, unknown = 0;
	unsigned int R = 0, i;
	uint64_t end_grains;
	struct hm_map m;
	png_image img;
	uint8_t *buf;
	char err[256];
	FILE *f;
	size_t b;

	if (argc != 4 && !(argc == 5 && !strcmp(argv[4], "legend"))) {
		fprintf(stderr, "usage: pngcheck PNG MAP MAX_WIDTH [legend]\n");
		return 2;
	}
	maxw = strtoul(argv[3], NULL, 10);
	while (W * 2 <= maxw)
		W *= 2;

	f = fopen(argv[2], "r");
	hm_map_init(&m);
	if (!f || hm_map_parse(f, &m, 1, err, sizeof(err)) || !m.nr) {
		fprintf(stderr, "pngcheck: %s: %s\n", argv[2], f ? err : "cannot open");
		return 1;
	}
	fclose(f);

	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&img, argv[1])) {
		fprintf(stderr, "pngcheck: %s: %s\n", argv[1], img.message);
		return 1;
	}
	img.format = PNG_FORMAT_RGB;
	buf = malloc(PNG_IMAGE_SIZE(img));
	if (!buf || !png_image_finish_read(&img, NULL, buf, 0, NULL)) {
		fprintf(stderr, "pngcheck: %s: %s\n", argv[1], img.message);
		return 1;
	}

	end_grains = (m.end + 15) / 16;
	while ((1ULL << R) < end_grains)
		R++;
	gw = 1UL << ((R + 1) / 2);
	gh = 1UL << (R / 2);
	want_h = W * gh / gw;
	if (img.width != W || img.height != want_h + (argc == 5 ? HM_LEGEND_HEIGHT : 0)) {
		printf("pngcheck: FAIL size %ux%u, want %lux%lu (range 16 B << %u)\n",
		       img.width, img.height, W, want_h, R);
		return 1;
	}

	for (b = 0; b < m.nr; b++) {
		const struct hm_block *bl = &m.blocks[b];
		uint64_t g = bl->offset / 16, x = 0, y = 0;
		unsigned long bw = 1UL << ((bl->order + 1) / 2);
		unsigned long bh = 1UL << (bl->order / 2);
		const uint8_t *p;

		for (i = 0; i < 32; i++) {
			x |= ((g >> (2 * i)) & 1) << i;
			y |= ((g >> (2 * i + 1)) & 1) << i;
		}
		/* Pixels per grain is W / gw (a power of two, maybe < 1). */
		if (bw * W < gw || bh * W < gw)
			continue;	/* smaller than a pixel */
		x = x * W / gw;
		y = y * W / gw;
		p = &buf[3 * (y * W + x)];
		checked++;
		if (!same(p, hm_color(bl->state, bl->order))) {
			if (bad++ < 5)
				printf("pngcheck: block %#llx order %u %s: pixel (%llu,%llu) is %u,%u,%u\n",
				       (unsigned long long)bl->offset, bl->order,
				       bl->state == HM_FREE ? "free" : "allocated",
				       (unsigned long long)x, (unsigned long long)y,
				       p[0], p[1], p[2]);
		}
	}
	if (W >= gw) {
		for (b = 0; b < (size_t)img.width * want_h; b++)
			unknown += !known(&buf[3 * b]);
	}
	printf("pngcheck: %s %ux%u, %zu blocks, %lu checked, %lu wrong, %lu unknown pixels\n",
	       bad || unknown || !checked ? "FAIL" : "ok", img.width, img.height,
	       m.nr, checked, bad, unknown);
	free(buf);
	hm_map_free(&m);
	return bad || unknown || !checked;
}
