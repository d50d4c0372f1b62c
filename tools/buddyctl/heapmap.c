// SPDX-License-Identifier: GPL-2.0
/*
 * heapmap - parse a heap's block map and draw it (text or pixels).
 * See heapmap.h for the file format and the layout.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "heapmap.h"

static void seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

void hm_map_init(struct hm_map *m)
{
	memset(m, 0, sizeof(*m));
}

void hm_map_free(struct hm_map *m)
{
	free(m->blocks);
	hm_map_init(m);
}

int hm_map_add(struct hm_map *m, uint64_t offset, unsigned int order,
	       enum hm_state state, char *err, size_t errlen)
{
	uint64_t bytes;

	if (order > HM_MAX_ORDER) {
		seterr(err, errlen, "block at %#" PRIx64 ": order %u is too large",
		       offset, order);
		return -1;
	}
	bytes = (uint64_t)1 << (order + HM_GRAIN_SHIFT);
	if (offset & (bytes - 1)) {
		seterr(err, errlen,
		       "block at %#" PRIx64 ": not aligned to its size (order %u)",
		       offset, order);
		return -1;
	}
	if (offset > UINT64_MAX - bytes) {
		seterr(err, errlen, "block at %#" PRIx64 ": past the end", offset);
		return -1;
	}
	if (m->nr == m->cap) {
		size_t cap = m->cap ? 2 * m->cap : 256;
		struct hm_block *b = realloc(m->blocks, cap * sizeof(*b));

		if (!b) {
			seterr(err, errlen, "out of memory");
			return -1;
		}
		m->blocks = b;
		m->cap = cap;
	}
	m->blocks[m->nr].offset = offset;
	m->blocks[m->nr].order = order;
	m->blocks[m->nr].state = state;
	m->nr++;
	if (offset + bytes > m->end)
		m->end = offset + bytes;
	m->bytes[state] += bytes;
	m->count[state][order]++;
	return 0;
}

static int cmp_block(const void *a, const void *b)
{
	const struct hm_block *x = a, *y = b;

	return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static int parse_state(const char *s, enum hm_state *state)
{
	switch (tolower((unsigned char)s[0])) {
	case 'f':
		*state = HM_FREE;
		return 0;
	case 'a':
	case 'u':
	case 'c':	/* "continued": the next block of a trimmed run */
		*state = HM_ALLOCATED;
		return 0;
	default:
		return -1;
	}
}

int hm_map_parse(FILE *f, struct hm_map *m, int strict, char *err,
		 size_t errlen)
{
	char line[256], st[32];
	unsigned long lineno = 0;
	uint64_t prev_end = 0;
	size_t i, j;

	while (fgets(line, sizeof(line), f)) {
		char *p = line, *end;
		unsigned long long off;
		unsigned long order;
		enum hm_state state;

		lineno++;
		while (isspace((unsigned char)*p))
			p++;
		if (!*p || *p == '#')
			continue;
		errno = 0;
		off = strtoull(p, &end, 0);
		if (end == p || errno) {
			if (lineno == 1)	/* a header line */
				continue;
			seterr(err, errlen, "line %lu: bad offset", lineno);
			return -1;
		}
		p = end;
		order = strtoul(p, &end, 10);
		if (end == p) {
			seterr(err, errlen, "line %lu: bad order", lineno);
			return -1;
		}
		p = end;
		if (sscanf(p, "%31s", st) != 1 || parse_state(st, &state)) {
			seterr(err, errlen, "line %lu: bad state", lineno);
			return -1;
		}
		if (order > HM_MAX_ORDER) {
			seterr(err, errlen, "line %lu: order %lu is too large",
			       lineno, order);
			return -1;
		}
		if (hm_map_add(m, off, (unsigned int)order, state, err, errlen))
			return -1;
	}
	if (ferror(f)) {
		seterr(err, errlen, "read error: %s", strerror(errno));
		return -1;
	}
	qsort(m->blocks, m->nr, sizeof(*m->blocks), cmp_block);
	m->end = 0;
	for (i = j = 0; i < m->nr; i++) {
		const struct hm_block *b = &m->blocks[i];
		uint64_t bytes = (uint64_t)1 << (b->order + HM_GRAIN_SHIFT);

		if (i && b->offset < prev_end) {
			if (strict) {
				seterr(err, errlen,
				       "blocks at %#" PRIx64 " and %#" PRIx64 " overlap",
				       m->blocks[j - 1].offset, b->offset);
				return -1;
			}
			m->bytes[b->state] -= bytes;
			m->count[b->state][b->order]--;
			m->dropped++;
			continue;
		}
		m->blocks[j++] = *b;
		prev_end = b->offset + bytes;
		m->end = prev_end;
	}
	m->nr = j;
	return 0;
}

/*
 * Colours: allocated blocks in warm colours from yellow (16 B) through
 * orange and red to purple (256 MiB and up), free blocks in cool ones from
 * pale green through green and blue to navy.  Piecewise linear between
 * keys every 8 orders, so every order up to 24 has its own colour.
 */
static const struct hm_rgb hm_keys[2][4] = {
	[HM_FREE] = {
		{ 190, 255, 190 }, { 60, 200, 120 },
		{ 40, 120, 220 }, { 20, 30, 140 },
	},
	[HM_ALLOCATED] = {
		{ 255, 224, 64 }, { 255, 128, 0 },
		{ 200, 30, 30 }, { 110, 0, 90 },
	},
};

static uint8_t lerp(uint8_t a, uint8_t b, unsigned int num, unsigned int den)
{
	int v = a + ((int)b - (int)a) * (int)num / (int)den;

	return (uint8_t)v;
}

struct hm_rgb hm_color(enum hm_state state, unsigned int order)
{
	const struct hm_rgb *k = hm_keys[state == HM_ALLOCATED];
	unsigned int seg, pos;
	struct hm_rgb c;

	if (order >= 24)
		return k[3];
	seg = order / 8;
	pos = order % 8;
	c.r = lerp(k[seg].r, k[seg + 1].r, pos, 8);
	c.g = lerp(k[seg].g, k[seg + 1].g, pos, 8);
	c.b = lerp(k[seg].b, k[seg + 1].b, pos, 8);
	return c;
}

/* Morton decoding: even bits of @g to x, odd bits to y. */
static void morton_xy(uint64_t g, uint64_t *x, uint64_t *y)
{
	uint64_t xs = 0, ys = 0;
	unsigned int i;

	for (i = 0; i < 32; i++) {
		xs |= ((g >> (2 * i)) & 1) << i;
		ys |= ((g >> (2 * i + 1)) & 1) << i;
	}
	*x = xs;
	*y = ys;
}

struct acc {
	uint64_t r, g, b;
};

static void fill(struct hm_raster *r, uint64_t x0, uint64_t y0, uint64_t w,
		 uint64_t h, const struct hm_block *b, uint64_t full)
{
	struct hm_rgb c = hm_color(b->state, b->order);
	uint64_t x, y;

	for (y = y0; y < y0 + h; y++) {
		for (x = x0; x < x0 + w; x++) {
			struct hm_pixel *p = &r->px[y * r->width + x];

			p->rgb = c;
			p->grains[b->state] = full;
			p->order = (int)b->order;
			p->block_start = (x == x0 && y == y0);
		}
	}
}

static void border(struct hm_raster *r, uint64_t x0, uint64_t y0, uint64_t w,
		   uint64_t h)
{
	uint64_t i;

	for (i = 0; i < w; i++)
		r->px[(y0 + h - 1) * r->width + x0 + i].rgb = HM_RGB_BORDER;
	for (i = 0; i < h; i++)
		r->px[(y0 + i) * r->width + x0 + w - 1].rgb = HM_RGB_BORDER;
}

static unsigned int ilog2_floor(uint64_t v)
{
	unsigned int l = 0;

	while (v >>= 1)
		l++;
	return l;
}

int hm_render(const struct hm_map *m, unsigned int max_width,
	      unsigned int max_height, int borders, struct hm_raster *r)
{
	uint64_t end_grains, gw, gh, full, n, i;
	unsigned int R = 0, mw;
	struct acc *acc = NULL;
	int z;

	memset(r, 0, sizeof(*r));
	if (!m->nr || max_width < 1)
		return -1;
	end_grains = (m->end + (1u << HM_GRAIN_SHIFT) - 1) >> HM_GRAIN_SHIFT;
	while (R < 60 && ((uint64_t)1 << R) < end_grains)
		R++;
	gw = (uint64_t)1 << ((R + 1) / 2);
	gh = (uint64_t)1 << (R / 2);
	mw = 1u << ilog2_floor(max_width);

	/* Largest zoom (or smallest shrink) that fits both limits. */
	if (!gw || !mw)
		return -1;
	if (gw <= mw)
		z = (int)ilog2_floor(mw / gw);
	else
		z = -(int)ilog2_floor(gw / mw);
	while (max_height && z > -(int)(R / 2) &&
	       (z >= 0 ? gh << z : gh >> -z) > max_height)
		z--;

	r->range_order = R;
	r->zoom_shift = z;
	r->width = (unsigned int)(z >= 0 ? gw << z : gw >> -z);
	r->height = (unsigned int)(z >= 0 ? gh << z : gh >> -z);
	n = (uint64_t)r->width * r->height;
	if (!n)
		return -1;
	full = z >= 0 ? 1 : (uint64_t)1 << (2 * -z);
	r->px = calloc(n, sizeof(*r->px));
	if (z < 0)
		acc = calloc(n, sizeof(*acc));
	if (!r->px || (z < 0 && !acc)) {
		free(acc);
		hm_raster_free(r);
		return -1;
	}
	for (i = 0; i < n; i++)
		r->px[i].order = -1;

	for (i = 0; i < m->nr; i++) {
		const struct hm_block *b = &m->blocks[i];
		uint64_t g = b->offset >> HM_GRAIN_SHIFT, x, y;
		uint64_t w = (uint64_t)1 << ((b->order + 1) / 2);
		uint64_t h = (uint64_t)1 << (b->order / 2);

		morton_xy(g, &x, &y);
		if (z >= 0) {
			fill(r, x << z, y << z, w << z, h << z, b, full);
		} else if (b->order >= (unsigned int)(2 * -z)) {
			fill(r, x >> -z, y >> -z, w >> -z, h >> -z, b, full);
		} else {
			/* Smaller than a pixel: weigh it in. */
			struct hm_pixel *p = &r->px[(y >> -z) * r->width + (x >> -z)];
			struct acc *a = &acc[(y >> -z) * r->width + (x >> -z)];
			struct hm_rgb c = hm_color(b->state, b->order);
			uint64_t gr = (uint64_t)1 << b->order;

			a->r += c.r * gr;
			a->g += c.g * gr;
			a->b += c.b * gr;
			p->grains[b->state] += gr;
		}
	}

	for (i = 0; i < n; i++) {
		struct hm_pixel *p = &r->px[i];
		uint64_t covered = p->grains[0] + p->grains[1];

		if (p->order >= 0)
			continue;
		if (!covered || !acc) {	/* zoomed: every covered pixel has an order */
			p->rgb = HM_RGB_UNMAPPED;
			continue;
		}
		/* Mixed pixel (only when shrinking): the weighted mean. */
		acc[i].r += (uint64_t)HM_RGB_UNMAPPED.r * (full - covered);
		acc[i].g += (uint64_t)HM_RGB_UNMAPPED.g * (full - covered);
		acc[i].b += (uint64_t)HM_RGB_UNMAPPED.b * (full - covered);
		p->rgb.r = (uint8_t)((acc[i].r + full / 2) / full);
		p->rgb.g = (uint8_t)((acc[i].g + full / 2) / full);
		p->rgb.b = (uint8_t)((acc[i].b + full / 2) / full);
	}
	free(acc);

	if (borders) {
		for (i = 0; i < m->nr; i++) {
			const struct hm_block *b = &m->blocks[i];
			uint64_t x, y, w, h;

			morton_xy(b->offset >> HM_GRAIN_SHIFT, &x, &y);
			w = (uint64_t)1 << ((b->order + 1) / 2);
			h = (uint64_t)1 << (b->order / 2);
			if (z < 0 && b->order < (unsigned int)(2 * -z))
				continue;
			x = z >= 0 ? x << z : x >> -z;
			y = z >= 0 ? y << z : y >> -z;
			w = z >= 0 ? w << z : w >> -z;
			h = z >= 0 ? h << z : h >> -z;
			if (w >= 4 && h >= 4)
				border(r, x, y, w, h);
		}
	}
	return 0;
}

/* A 3x5 font for the legend: digits, 'A' and 'F', one row per 3 bits. */
static const uint8_t hm_font[12][5] = {
	{ 7, 5, 5, 5, 7 }, { 2, 6, 2, 2, 7 }, { 7, 1, 7, 4, 7 }, { 7, 1, 7, 1, 7 },
	{ 5, 5, 7, 1, 1 }, { 7, 4, 7, 1, 7 }, { 7, 4, 7, 5, 7 }, { 7, 1, 1, 1, 1 },
	{ 7, 5, 7, 5, 7 }, { 7, 5, 7, 1, 7 }, { 2, 5, 7, 5, 5 }, { 7, 4, 6, 4, 4 },
};

static void put_px(struct hm_raster *r, unsigned int x, unsigned int y,
		   struct hm_rgb c)
{
	if (x < r->width && y < r->height)
		r->px[y * r->width + x].rgb = c;
}

/* Glyph @g (0-9, 10 = 'A', 11 = 'F') at (x, y), each dot 2 x 2 pixels. */
static void glyph(struct hm_raster *r, unsigned int x, unsigned int y,
		  unsigned int g, struct hm_rgb c)
{
	unsigned int row, col;

	for (row = 0; row < 10; row++)
		for (col = 0; col < 6; col++)
			if (hm_font[g][row / 2] & (4 >> (col / 2)))
				put_px(r, x + col, y + row, c);
}

int hm_add_legend(const struct hm_map *m, struct hm_raster *r)
{
	const struct hm_rgb black = { 0, 0, 0 }, white = { 255, 255, 255 };
	unsigned int h = r->height + HM_LEGEND_HEIGHT, st, o, x, y, i, j;
	struct hm_pixel *px;

	px = realloc(r->px, (size_t)r->width * h * sizeof(*px));
	if (!px)
		return -1;
	r->px = px;
	for (i = r->width * r->height; i < r->width * h; i++) {
		memset(&px[i], 0, sizeof(px[i]));
		px[i].order = -1;
		px[i].rgb = HM_RGB_LEGEND_BG;
	}
	y = r->height + 4;
	r->height = h;
	for (st = 0; st < 2; st++, y += 18) {
		enum hm_state state = st ? HM_FREE : HM_ALLOCATED;

		glyph(r, 4, y + 2, st ? 11 : 10, black);
		x = 14;
		for (o = 0; o <= HM_MAX_ORDER; o++) {
			struct hm_rgb c = hm_color(state, o);
			unsigned int lum = (299u * c.r + 587u * c.g + 114u * c.b) / 1000u;

			if (!m->count[state][o])
				continue;
			if (x + 18 > r->width)
				break;
			for (j = 0; j < 14; j++)
				for (i = 0; i < 18; i++)
					put_px(r, x + i, y + j, c);
			if (o >= 10) {
				glyph(r, x + 2, y + 2, o / 10, lum > 128 ? black : white);
				glyph(r, x + 10, y + 2, o % 10, lum > 128 ? black : white);
			} else {
				glyph(r, x + 6, y + 2, o, lum > 128 ? black : white);
			}
			x += 20;
		}
	}
	return 0;
}

void hm_raster_free(struct hm_raster *r)
{
	free(r->px);
	r->px = NULL;
}

static const char hm_digits[] = "0123456789abcdefghijklmnopqrstuvwxyz";

static void ansi_color(FILE *out, struct hm_rgb c)
{
	/* Dark text on light cells, light text on dark ones. */
	unsigned int lum = (299u * c.r + 587u * c.g + 114u * c.b) / 1000u;

	fprintf(out, "\033[48;2;%u;%u;%um\033[38;2;%s",
		c.r, c.g, c.b, lum > 128 ? "0;0;0m" : "255;255;255m");
}

void hm_print_text(FILE *out, const struct hm_raster *r, int color)
{
	unsigned int x, y;

	for (y = 0; y < r->height; y++) {
		for (x = 0; x < r->width; x++) {
			const struct hm_pixel *p = &r->px[y * r->width + x];
			char s[3] = "  ";

			if (p->order >= 0) {
				char fillc = p->grains[HM_ALLOCATED] ? '#' : '.';

				s[0] = p->block_start ? hm_digits[p->order % 36] : fillc;
				s[1] = fillc;
			} else if (p->grains[HM_ALLOCATED] || p->grains[HM_FREE]) {
				s[0] = p->grains[HM_ALLOCATED] >=
				       p->grains[HM_FREE] ? '%' : ':';
				s[1] = s[0];
			}
			if (color)
				ansi_color(out, p->rgb);
			fputs(s, out);
		}
		if (color)
			fputs("\033[0m", out);
		fputc('\n', out);
	}
}

static void human(char *buf, size_t len, uint64_t bytes)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	unsigned int u = 0;

	while (bytes >= 1024 && !(bytes & 1023) && u < 4) {
		bytes >>= 10;
		u++;
	}
	snprintf(buf, len, "%" PRIu64 " %s", bytes, units[u]);
}

void hm_print_legend(FILE *out, const struct hm_map *m, int color)
{
	char a[32], f[32], sz[32];
	unsigned int o;

	human(a, sizeof(a), m->bytes[HM_ALLOCATED]);
	human(f, sizeof(f), m->bytes[HM_FREE]);
	fprintf(out,
		"%zu blocks: %s allocated, %s free.  Cell: <order><#=allocated|.=free>, %%/: several blocks, blank: no chunk\n",
		m->nr, a, f);
	fprintf(out, "order %10s %10s %10s\n", "size", "allocated", "free");
	for (o = 0; o <= HM_MAX_ORDER; o++) {
		if (!m->count[0][o] && !m->count[1][o])
			continue;
		human(sz, sizeof(sz), (uint64_t)1 << (o + HM_GRAIN_SHIFT));
		fprintf(out, "%5c %10s ", hm_digits[o % 36], sz);
		if (color)
			ansi_color(out, hm_color(HM_ALLOCATED, o));
		fprintf(out, "%10" PRIu64, m->count[HM_ALLOCATED][o]);
		if (color)
			fputs("\033[0m", out);
		fputc(' ', out);
		if (color)
			ansi_color(out, hm_color(HM_FREE, o));
		fprintf(out, "%10" PRIu64, m->count[HM_FREE][o]);
		if (color)
			fputs("\033[0m", out);
		fputc('\n', out);
	}
}
