// SPDX-License-Identifier: GPL-2.0
/*
 * png - write a rendered heap map as an 8-bit RGB PNG with libpng's
 * simplified API (libpng 1.6).
 */
#include <stdlib.h>
#include <string.h>

#include <png.h>

#include "heapmap.h"

int hm_write_png(const char *path, const struct hm_raster *r,
		 char *err, size_t errlen)
{
	png_image img;
	uint8_t *buf;
	size_t i, n = (size_t)r->width * r->height;
	int ok;

	buf = malloc(n * 3);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		buf[3 * i] = r->px[i].rgb.r;
		buf[3 * i + 1] = r->px[i].rgb.g;
		buf[3 * i + 2] = r->px[i].rgb.b;
	}
	memset(&img, 0, sizeof(img));
	img.version = PNG_IMAGE_VERSION;
	img.width = r->width;
	img.height = r->height;
	img.format = PNG_FORMAT_RGB;
	ok = png_image_write_to_file(&img, path, 0, buf, 0, NULL);
	free(buf);
	if (!ok) {
		snprintf(err, errlen, "%s: %s", path, img.message);
		png_image_free(&img);
		return -1;
	}
	return 0;
}
