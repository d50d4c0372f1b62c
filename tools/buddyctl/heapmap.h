/* SPDX-License-Identifier: GPL-2.0 */
/*
 * heapmap - draw a /dev/buddy heap as a picture of its blocks.
 *
 * Input is the heap's debugfs "map" file: one line per block,
 *
 *	<offset> <order> <state>
 *
 * offset in bytes from the window base (decimal or 0x-hex), order as in the
 * core (the block is 16 << order bytes), state "free" or "allocated" (any
 * word starting with 'f' is free, with 'a' or 'u' allocated).  Blank lines
 * and lines starting with '#' are ignored, as are lines with fewer fields
 * (a header).
 *
 * Layout: the populated part of the window - the smallest power-of-two
 * range [0, 16 << R) holding every block - is laid out on a Z-order
 * (Morton) curve: grain index bits alternate between x (even bits) and y
 * (odd bits).  An aligned block of order k is then exactly a rectangle of
 * 2^ceil(k/2) x 2^floor(k/2) grains, buddies sit side by side, and every
 * block is a cell whose area is its size.  Parts of the range no block
 * covers (no chunk there) are drawn as "unmapped".
 *
 * The grid is scaled to a maximum width: each grain becomes a z x z square
 * of pixels (z a power of two), or each pixel a d x d square of grains, in
 * which case the pixel is the size-weighted average of the blocks in it.
 */
#ifndef BUDDYCTL_HEAPMAP_H
#define BUDDYCTL_HEAPMAP_H

#include <stdint.h>
#include <stdio.h>

#define HM_GRAIN_SHIFT	4
#define HM_MAX_ORDER	40

enum hm_state {
	HM_FREE = 0,
	HM_ALLOCATED = 1,
};

struct hm_block {
	uint64_t offset;	/* bytes */
	unsigned int order;	/* 16 << order bytes */
	enum hm_state state;
};

struct hm_map {
	struct hm_block *blocks;
	size_t nr, cap;
	uint64_t end;		/* highest block end, bytes */
	uint64_t bytes[2];	/* bytes per state */
	uint64_t count[2][HM_MAX_ORDER + 1];	/* blocks per state and order */
	size_t dropped;		/* overlapping blocks left out (lenient parse) */
};

struct hm_rgb {
	uint8_t r, g, b;
};

/* Fixed colours, also used by the tests. */
#define HM_RGB_UNMAPPED	((struct hm_rgb){ 40, 40, 40 })
#define HM_RGB_BORDER	((struct hm_rgb){ 0, 0, 0 })

/* What a pixel holds. */
struct hm_pixel {
	struct hm_rgb rgb;
	uint64_t grains[2];	/* grains per state; the rest is unmapped */
	int order;		/* order of the single block covering it, or -1 */
	int block_start;	/* the top-left pixel of a block */
};

struct hm_raster {
	unsigned int width, height;
	unsigned int range_order;	/* R: the range is 16 << R bytes */
	int zoom_shift;		/* >= 0: grain = 2^z x 2^z px; < 0: pixel = 2^-z x 2^-z grains */
	struct hm_pixel *px;
};

void hm_map_init(struct hm_map *m);
void hm_map_free(struct hm_map *m);
/* Returns 0, or -1 with a message in @err. */
int hm_map_add(struct hm_map *m, uint64_t offset, unsigned int order,
	       enum hm_state state, char *err, size_t errlen);
/*
 * Reads a map file.  Overlapping blocks are an error when @strict; else
 * (a live heap read in batches may change in between) later ones are left
 * out and counted in m->dropped.
 */
int hm_map_parse(FILE *f, struct hm_map *m, int strict, char *err,
		 size_t errlen);

struct hm_rgb hm_color(enum hm_state state, unsigned int order);

/*
 * Lays @m out at most @max_width pixels wide (a power of two is used) and
 * at most @max_height high (0: no limit).  @borders: draw a one-pixel
 * border on the right and bottom edge of blocks at least 4 px each way.
 */
int hm_render(const struct hm_map *m, unsigned int max_width,
	      unsigned int max_height, int borders, struct hm_raster *r);
void hm_raster_free(struct hm_raster *r);

/*
 * Appends a legend strip (HM_LEGEND_HEIGHT pixels, white) below the map:
 * a row of swatches for the allocated orders present (marked A) and one
 * for the free orders (F), each labelled with its order.
 */
#define HM_LEGEND_HEIGHT	40
#define HM_RGB_LEGEND_BG	((struct hm_rgb){ 255, 255, 255 })
int hm_add_legend(const struct hm_map *m, struct hm_raster *r);

/* Text picture: two characters per pixel, optional ANSI colours. */
void hm_print_text(FILE *out, const struct hm_raster *r, int color);
void hm_print_legend(FILE *out, const struct hm_map *m, int color);

/* PNG through libpng; returns 0 or -1 with a message in @err. */
int hm_write_png(const char *path, const struct hm_raster *r,
		 char *err, size_t errlen);

#endif /* BUDDYCTL_HEAPMAP_H */
