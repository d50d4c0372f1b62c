// SPDX-License-Identifier: GPL-2.0
/*
 * Slabs behind the per-thread caches (see slab.h): a slab is one 64 KiB
 * kernel block holding as many objects of its class as fit.  Per class, the
 * slabs with free objects are on a list; caches take from its head (the
 * slab being filled) and a slab that gets a free object again joins its
 * tail, so holes are filled before a new slab is asked for.  One slab with
 * every object free is kept per class, to not ask the kernel again at once;
 * a second goes back to the kernel.
 *
 * Why out of the kernel's hands: the kernel rounds to powers of two, and
 * its trimmed runs leave sub-page tails that small requests of other sizes
 * rarely fit; a slab holds one size only, in classes four to eight per
 * doubling, so a page of objects is a page of requests.
 */
#include <string.h>
#include <sys/mman.h>

#include "cache.h"
#include "slab.h"
#include "util.h"

#define SLAB_MAX_OBJECTS	(SLAB_BYTES >> CACHE_GRAIN_SHIFT)
#define SLAB_MAP_WORDS		(SLAB_MAX_OBJECTS / 64)
#define SLAB_NIL		UINT32_MAX
#define SHADOW_POOL_BYTES	(256u << 10)

/* One per SLAB_BYTES of the window, in a side array. */
struct slab {
	uint16_t nobj;		/* objects in the slab; 0: no slab here */
	uint16_t nfree;		/* of them, free in the slab (in no cache) */
	uint8_t cls;
	uint8_t word;		/* freemap words below it are all zero */
	uint32_t prev, next;	/* on its class's list while nfree > 0 */
	uint64_t freemap[SLAB_MAP_WORDS];	/* bit set: free in the slab */
};

struct slab_class {
	uint32_t head, tail;	/* slabs with free objects */
	uint32_t empty;		/* the slab kept with every object free */
	uint32_t size;		/* bytes per object */
	uint32_t nobj;		/* objects per slab */
	uint32_t shift;		/* its lowest set bit: a shadow byte per 1 << shift */
};

static struct slab *slabs;
static struct slab_class classes[SH_CLASS + 1];
static struct buddy_handle *slab_heap;
static unsigned int slab_classes;
static uint64_t nr_slabs, free_bytes;

/* A released slab's shadow array (16 bytes at least), on a free list. */
struct spare_shadow {
	struct spare_shadow *next;
};

/* Shadow arrays of released slabs, by shift; a pool to cut new ones from. */
static struct spare_shadow *shadow_spare[CACHE_GRAIN_SHIFT + 12];
static unsigned char *pool_next, *pool_end;

/**
 * slab_init() - the side array for the default heap's slabs
 * @h: the default heap, open and mapped
 * @nr_classes: size classes, at most SH_CLASS + 1
 * @class_size: bytes per object of each class, multiples of the grain
 *
 * Return: 0, or -1 without memory for the array (no caches then).
 */
int slab_init(struct buddy_handle *h, unsigned int nr_classes,
	      const unsigned short *class_size)
{
	size_t len = (h->window >> SLAB_SHIFT) * sizeof(struct slab);
	void *a;

	if (h->window < SLAB_BYTES || nr_classes > SH_CLASS + 1)
		return -1;
	a = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED)
		return -1;
	for (unsigned int c = 0; c < nr_classes; c++) {
		classes[c].head = classes[c].tail = SLAB_NIL;
		classes[c].empty = SLAB_NIL;
		classes[c].size = class_size[c];
		classes[c].nobj = SLAB_BYTES / class_size[c];
		classes[c].shift = (uint32_t)__builtin_ctz(class_size[c]);
	}
	slab_classes = nr_classes;
	slab_heap = h;
	slabs = a;
	return 0;
}

static void list_del(struct slab_class *c, uint32_t i)
{
	struct slab *s = &slabs[i];

	if (s->prev != SLAB_NIL)
		slabs[s->prev].next = s->next;
	else
		c->head = s->next;
	if (s->next != SLAB_NIL)
		slabs[s->next].prev = s->prev;
	else
		c->tail = s->prev;
}

static void list_add(struct slab_class *c, uint32_t i, int at_head)
{
	struct slab *s = &slabs[i];

	if (c->head == SLAB_NIL) {
		s->prev = s->next = SLAB_NIL;
		c->head = c->tail = i;
	} else if (at_head) {
		s->prev = SLAB_NIL;
		s->next = c->head;
		slabs[c->head].prev = i;
		c->head = i;
	} else {
		s->next = SLAB_NIL;
		s->prev = c->tail;
		slabs[c->tail].next = i;
		c->tail = i;
	}
}

static inline uintptr_t slab_base(uint32_t i)
{
	return cache_base + ((uintptr_t)i << SLAB_SHIFT);
}

/* A zeroed shadow array for a slab of a class with this shift, or NULL. */
static unsigned char *shadow_get(unsigned int shift)
{
	size_t len = SLAB_BYTES >> shift;
	struct spare_shadow *spare = shadow_spare[shift];
	unsigned char *a;

	if (spare) {
		shadow_spare[shift] = spare->next;
		memset(spare, 0, len);
		return (unsigned char *)spare;
	}
	if ((size_t)(pool_end - pool_next) < len) {
		a = mmap(NULL, SHADOW_POOL_BYTES, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (a == MAP_FAILED)
			return NULL;
		pool_next = a;
		pool_end = a + SHADOW_POOL_BYTES;
	}
	a = pool_next;
	pool_next += len;
	return a;
}

static void shadow_put(unsigned char *a, unsigned int shift)
{
	struct spare_shadow *spare = (struct spare_shadow *)(void *)a;

	spare->next = shadow_spare[shift];
	shadow_spare[shift] = spare;
}

/* A new slab of class cls from the kernel, on the list's head; or SLAB_NIL. */
static uint32_t slab_new(unsigned int cls)
{
	struct slab_class *c = &classes[cls];
	struct buddy_op op = { .op = BUDDY_OP_MALLOC, .size = SLAB_BYTES };
	unsigned char *shadow = shadow_get(c->shift);
	unsigned int reason;
	struct slab *s;
	uint32_t i;

	if (!shadow)
		return SLAB_NIL;
	if (heap_batch_locked(slab_heap, &op, 1) || op.result) {
		shadow_put(shadow, c->shift);
		return SLAB_NIL;
	}
	/* a power of two is never trimmed: the block is aligned to its size */
	if (op.offset & (SLAB_BYTES - 1)) {
		heap_free_offset_locked(slab_heap, op.offset, &reason);
		shadow_put(shadow, c->shift);
		return SLAB_NIL;
	}
	i = (uint32_t)(op.offset >> SLAB_SHIFT);
	s = &slabs[i];
	s->nobj = (uint16_t)c->nobj;
	s->nfree = (uint16_t)c->nobj;
	s->cls = (uint8_t)cls;
	s->word = 0;
	for (unsigned int w = 0; w < SLAB_MAP_WORDS; w++) {
		unsigned int first = w * 64;

		s->freemap[w] = first + 64 <= c->nobj ? ~0ull :
			first < c->nobj ? (1ull << (c->nobj - first)) - 1 : 0;
	}
	for (unsigned int k = 0; k < c->nobj; k++)
		shadow[(k * c->size) >> c->shift] = SH_CACHED | cls;
	cache_shadow[i].shift = c->shift;
	__atomic_store_n(&cache_shadow[i].bytes, shadow, __ATOMIC_RELEASE);
	list_add(c, i, 1);
	nr_slabs++;
	free_bytes += (uint64_t)c->nobj * c->size;
	return i;
}

/* Slab i, every object free, back to the kernel. */
static void slab_release(struct slab_class *c, uint32_t i)
{
	struct slab *s = &slabs[i];
	uintptr_t base = slab_base(i);
	unsigned char *shadow;
	unsigned int reason;

	list_del(c, i);
	/*
	 * From now on a pointer into it is the kernel's to refuse.  (Only a
	 * program freeing an object of it in a race with its own last free
	 * could still be using the array, as a cut-off double free.)
	 */
	shadow = cache_shadow[i].bytes;
	__atomic_store_n(&cache_shadow[i].bytes, NULL, __ATOMIC_RELEASE);
	shadow_put(shadow, c->shift);
	if (heap_free_offset_locked(slab_heap, base - cache_base, &reason))
		die("libbuddy: internal error: the kernel refused to free a slab");
	free_bytes -= (uint64_t)s->nobj * c->size;
	s->nobj = 0;
	nr_slabs--;
}

/**
 * slab_take() - free objects of a class for a cache
 * @cls: the size class
 * @out: where their addresses go, lowest first
 * @want: how many
 *
 * From the slabs with free objects, then new slabs.  Their shadow already
 * says SH_CACHED | cls.  Under the heap's lock.
 *
 * Return: how many were taken (fewer when the kernel has no memory).
 */
unsigned int slab_take(unsigned int cls, void **out, unsigned int want)
{
	struct slab_class *c = &classes[cls];
	unsigned int got = 0;

	while (got < want) {
		uint32_t i = c->head;
		struct slab *s;

		if (i == SLAB_NIL)
			i = slab_new(cls);
		if (i == SLAB_NIL)
			break;
		s = &slabs[i];
		if (c->empty == i)
			c->empty = SLAB_NIL;
		while (got < want && s->nfree) {
			unsigned int w = s->word, bit;

			while (!s->freemap[w])
				w++;
			s->word = (uint8_t)w;
			bit = (unsigned int)__builtin_ctzll(s->freemap[w]);
			s->freemap[w] &= s->freemap[w] - 1;
			s->nfree--;
			out[got++] = (void *)(slab_base(i) +
					      (w * 64 + bit) * c->size);
		}
		if (!s->nfree)
			list_del(c, i);
	}
	free_bytes -= (uint64_t)got * c->size;
	return got;
}

/* The slab of p and p's object number in it, or NULL when p starts none. */
static struct slab *object_of(const void *p, unsigned int *k)
{
	uintptr_t off = (uintptr_t)p - cache_base;
	struct slab *s;
	uint32_t in;

	if (!slabs || off >= slab_heap->window)
		return NULL;
	s = &slabs[off >> SLAB_SHIFT];
	in = (uint32_t)(off & (SLAB_BYTES - 1));
	if (!s->nobj || in % classes[s->cls].size)
		return NULL;
	*k = in / classes[s->cls].size;
	return *k < s->nobj ? s : NULL;
}

/**
 * slab_put() - an object of a class back into its slab
 * @p: the object, which no cache holds any more
 * @cls: its class (the shadow's)
 *
 * Its shadow stays SH_CACHED | cls.  Under the heap's lock.  A pointer that
 * is not an object of that class taken from its slab is an internal error:
 * the shadow byte vouched for it.
 */
void slab_put(void *p, unsigned int cls)
{
	struct slab_class *c = &classes[cls];
	unsigned int k;
	struct slab *s = object_of(p, &k);
	uint32_t i;

	if (!s || s->cls != cls || (s->freemap[k / 64] >> (k % 64) & 1))
		die("libbuddy: internal error: a cached block is not a slab's");
	s->freemap[k / 64] |= 1ull << (k % 64);
	if (k / 64 < s->word)
		s->word = (uint8_t)(k / 64);
	free_bytes += c->size;
	i = (uint32_t)(s - slabs);
	if (++s->nfree == 1)
		list_add(c, i, 0);
	if (s->nfree < s->nobj)
		return;
	if (c->empty == SLAB_NIL)
		c->empty = i;
	else
		slab_release(c, i);
}

/*
 * 1 when p is an object free in its slab (in no cache); 0 otherwise.  For
 * a forked child's look at slots its vanished threads left (cache.c).
 */
int slab_holds_free(const void *p)
{
	unsigned int k;
	const struct slab *s = object_of(p, &k);

	return s && (s->freemap[k / 64] >> (k % 64) & 1);
}

/**
 * slab_release_empty() - give every slab with no object in use back
 *
 * After a cache flush that a caller asked for (buddy_cache_flush(), an
 * allocation that failed): what no one uses is the kernel's again.  Under
 * the heap's lock.
 *
 * Return: how many slabs went back.
 */
unsigned int slab_release_empty(void)
{
	unsigned int n = 0;

	for (unsigned int cls = 0; cls < slab_classes; cls++) {
		struct slab_class *c = &classes[cls];

		if (c->empty != SLAB_NIL) {
			slab_release(c, c->empty);
			c->empty = SLAB_NIL;
			n++;
		}
	}
	return n;
}

/* For BUDDY_STATS: slabs held, and bytes free in them (in no cache). */
void slab_totals(uint64_t *slab_count, uint64_t *slab_free_bytes)
{
	*slab_count = __atomic_load_n(&nr_slabs, __ATOMIC_RELAXED);
	*slab_free_bytes = __atomic_load_n(&free_bytes, __ATOMIC_RELAXED);
}
