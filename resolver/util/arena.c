/*
 * Bump allocator in linked chunks, for per-request memory and for the
 * config snapshot. The head chunk serves small allocations; a request too
 * big to be worth a regular chunk gets a chunk of its own, linked behind the
 * head so the head keeps serving. Reset keeps one regular chunk so a worker
 * that resets after every query does not call malloc in steady state.
 * Under AddressSanitizer, chunk space is poisoned until handed out and again
 * when reset frees it, so use-after-reset and overruns between neighbouring
 * allocations are reported.
 */
#include "vpcdns/util.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define VD_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define VD_ASAN 1
#endif

#ifdef VD_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define ARENA_ALIGN 16
#define ARENA_DEFAULT_CHUNK 16384
/* Requests above a quarter of the current chunk get a dedicated chunk. */
#define LARGE_DIV 4
/* Regular chunks double from chunk_size up to this, so a small arena (one
 * tiny zone among thousands) stays small and a big one needs few chunks. */
#define ARENA_MAX_CHUNK (1u << 20)

struct vd_arena_chunk {
	vd_arena_chunk_t *next;
	size_t cap;  /* bytes in data[] */
	size_t used; /* bytes handed out, each request rounded up */
	alignas(ARENA_ALIGN) unsigned char data[];
};

static size_t align_up(size_t n)
{
	return (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

static vd_arena_chunk_t *chunk_new(size_t cap)
{
	vd_arena_chunk_t *c;

	if (cap > SIZE_MAX - sizeof(*c))
		return NULL;
	/* aligned_alloc so data[] is 16-aligned whatever malloc guarantees. */
	c = aligned_alloc(ARENA_ALIGN, align_up(sizeof(*c) + cap));
	if (!c)
		return NULL;
	c->next = NULL;
	c->cap = cap;
	c->used = 0;
	POISON(c->data, cap);
	return c;
}

static void chunk_free(vd_arena_chunk_t *c)
{
	UNPOISON(c->data, c->cap);
	free(c);
}

void vd_arena_init(vd_arena_t *a, size_t chunk_size)
{
	if (!a)
		return;
	a->head = NULL;
	a->chunk_size = chunk_size ? align_up(chunk_size) : ARENA_DEFAULT_CHUNK;
	a->used = 0;
}

void vd_arena_deinit(vd_arena_t *a)
{
	vd_arena_chunk_t *c, *next;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		chunk_free(c);
	}
	a->head = NULL;
	a->used = 0;
}

void vd_arena_reset(vd_arena_t *a)
{
	vd_arena_chunk_t *c, *next, *keep = NULL;

	if (!a)
		return;
	for (c = a->head; c; c = next) {
		next = c->next;
		if (!keep && c->cap == a->chunk_size) {
			keep = c;
			continue;
		}
		chunk_free(c);
	}
	if (keep) {
		POISON(keep->data, keep->cap);
		keep->used = 0;
		keep->next = NULL;
	}
	a->head = keep;
	a->used = 0;
}

/* A dedicated chunk for one large request, linked after the head. */
static void *alloc_large(vd_arena_t *a, size_t size)
{
	vd_arena_chunk_t *c = chunk_new(align_up(size));

	if (!c)
		return NULL;
	c->used = c->cap;
	if (a->head) {
		c->next = a->head->next;
		a->head->next = c;
	} else {
		a->head = c;
	}
	UNPOISON(c->data, size);
	return c->data;
}

void *vd_arena_alloc(vd_arena_t *a, size_t size)
{
	vd_arena_chunk_t *c;
	size_t step;
	void *p;

	if (!a || size > SIZE_MAX - 2 * ARENA_ALIGN)
		return NULL;
	if (!size)
		size = 1;
	step = align_up(size);
	c = a->head;
	size_t cur = c && c->cap > a->chunk_size ? c->cap : a->chunk_size;
	if (step > cur / LARGE_DIV) {
		p = alloc_large(a, size);
		goto out;
	}
	if (!c || c->cap - c->used < step) {
		size_t cap = c ? 2 * cur : a->chunk_size;
		if (cap > ARENA_MAX_CHUNK)
			cap = cur > ARENA_MAX_CHUNK ? cur : ARENA_MAX_CHUNK;
		c = chunk_new(cap);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += step;
	/* Only the bytes asked for: the alignment padding stays poisoned. */
	UNPOISON(p, size);
out:
	if (p)
		a->used += step;
	return p;
}

void *vd_arena_memdup(vd_arena_t *a, const void *p, size_t size)
{
	void *d;

	if (!p && size)
		return NULL;
	d = vd_arena_alloc(a, size);
	if (d && size)
		memcpy(d, p, size);
	return d;
}

char *vd_arena_strdup(vd_arena_t *a, const char *s)
{
	if (!s)
		return NULL;
	return vd_arena_memdup(a, s, strlen(s) + 1);
}

int vd_arena_push(vd_arena_t *a, void **arr, size_t *n, size_t *cap, const void *elem,
		  size_t size)
{
	void *grown;

	if (*n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;

		grown = vd_arena_alloc(a, ncap * size);
		if (!grown)
			return -ENOMEM;
		if (*n)
			memcpy(grown, *arr, *n * size);
		*arr = grown;
		*cap = ncap;
	}
	memcpy((char *)*arr + *n * size, elem, size);
	(*n)++;
	return 0;
}
