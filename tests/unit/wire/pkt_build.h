/*
 * A tiny DNS packet builder shared by the wire tests, so each case reads
 * as the bytes it sends. Overflowing the fixed buffer fails the test.
 * Include after <cmocka.h>.
 */
#pragma once

#include <stdint.h>
#include <string.h>

typedef struct {
	uint8_t b[2048];
	size_t n;
} pkt_t;

static inline void put(pkt_t *p, const void *d, size_t n)
{
	assert_true(p->n + n <= sizeof(p->b));
	memcpy(p->b + p->n, d, n);
	p->n += n;
}

static inline void put16(pkt_t *p, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };

	put(p, b, 2);
}

static inline void put32(pkt_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p, (uint16_t)v);
}

/* Starts the packet over with a header. */
static inline void header(pkt_t *p, uint16_t id, uint16_t flags, uint16_t qd,
			  uint16_t an, uint16_t ns, uint16_t ar)
{
	p->n = 0;
	put16(p, id);
	put16(p, flags);
	put16(p, qd);
	put16(p, an);
	put16(p, ns);
	put16(p, ar);
}

/* Type, class, TTL and rdlength of an RR whose owner was just put. */
static inline void rr_fixed(pkt_t *p, uint16_t type, uint16_t rclass, uint32_t ttl,
			    uint16_t rdlen)
{
	put16(p, type);
	put16(p, rclass);
	put32(p, ttl);
	put16(p, rdlen);
}
