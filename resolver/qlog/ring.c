/*
 * The per-worker ring: a bounded single-producer/single-consumer queue of
 * fixed-size records. The producer owns head, the consumer tail; each
 * reads the other's with acquire and publishes its own with release, so
 * a record's bytes are visible before its index is. The two indexes and
 * the drop counter sit on separate cache lines: a worker and the writer
 * never write the same line.
 */
#include "qlog_int.h"

#include <stdlib.h>

vd_qlog_ring_t *vd_qlog_ring_new(uint32_t cap)
{
	vd_qlog_ring_t *r;
	size_t n = VD_QLOG_RING_MIN;

	while (n < cap && n < VD_QLOG_RING_MAX)
		n <<= 1;
	r = aligned_alloc(64, sizeof(*r));
	if (r == NULL)
		return NULL;
	memset(r, 0, sizeof(*r));
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	atomic_init(&r->dropped, 0);
	r->mask = n - 1;
	r->recs = calloc(n, sizeof(*r->recs));
	if (r->recs == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void vd_qlog_ring_free(vd_qlog_ring_t *r)
{
	if (r == NULL)
		return;
	free(r->recs);
	free(r);
}

vd_qlog_rec_t *vd_qlog_reserve(vd_qlog_ring_t *r)
{
	size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	size_t t = atomic_load_explicit(&r->tail, memory_order_acquire);

	if (h - t > r->mask) {
		/* Only this thread writes the counter: no read-modify-write. */
		uint64_t d = atomic_load_explicit(&r->dropped, memory_order_relaxed);
		atomic_store_explicit(&r->dropped, d + 1, memory_order_relaxed);
		return NULL;
	}
	return &r->recs[h & r->mask];
}

void vd_qlog_commit(vd_qlog_ring_t *r)
{
	size_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

const vd_qlog_rec_t *vd_qlog_ring_peek(vd_qlog_ring_t *r)
{
	size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	size_t h = atomic_load_explicit(&r->head, memory_order_acquire);

	return t == h ? NULL : &r->recs[t & r->mask];
}

void vd_qlog_ring_pop(vd_qlog_ring_t *r)
{
	size_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

uint64_t vd_qlog_ring_dropped(const vd_qlog_ring_t *r)
{
	return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}
