/*
 * Random numbers for DNS message IDs and source ports (anti-spoofing), from
 * OpenSSL's CSPRNG. RAND_bytes takes a lock and has per-call overhead, so
 * each thread draws a block at a time into a thread-local buffer. A forked
 * child must not replay its parent's buffered bytes: a fork handler bumps a
 * generation counter and buffers from an older generation are discarded.
 * Failure of the CSPRNG aborts: predictable IDs would make cache poisoning
 * easy, which is worse than stopping.
 */
#include "vpcdns/util.h"

#include <openssl/rand.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define RAND_BUF 512

static atomic_uint fork_gen;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static _Thread_local struct {
	uint8_t bytes[RAND_BUF];
	size_t pos; /* bytes[pos..] are unused */
	unsigned gen;
	bool filled;
} tl_rand;

static void child_after_fork(void)
{
	atomic_fetch_add(&fork_gen, 1);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, child_after_fork);
}

static void draw(void *buf, size_t len)
{
	if (len > (size_t)INT32_MAX || RAND_bytes(buf, (int)len) != 1) {
		vd_log(VD_LOG_ERR, "CSPRNG failure, aborting");
		abort();
	}
}

static void refill(void)
{
	draw(tl_rand.bytes, sizeof(tl_rand.bytes));
	tl_rand.pos = 0;
	tl_rand.gen = atomic_load(&fork_gen);
	tl_rand.filled = true;
}

void vd_rand_bytes(void *buf, size_t len)
{
	uint8_t *out = buf;
	size_t n;

	if (!buf || !len)
		return;
	if (len > RAND_BUF / 2) {
		draw(buf, len);
		return;
	}
	pthread_once(&atfork_once, register_atfork);
	if (!tl_rand.filled || tl_rand.gen != atomic_load(&fork_gen))
		refill();
	while (len) {
		if (tl_rand.pos == RAND_BUF)
			refill();
		n = RAND_BUF - tl_rand.pos;
		if (n > len)
			n = len;
		memcpy(out, tl_rand.bytes + tl_rand.pos, n);
		/* Used bytes are wiped so a memory dump does not reveal past IDs. */
		memset(tl_rand.bytes + tl_rand.pos, 0, n);
		tl_rand.pos += n;
		out += n;
		len -= n;
	}
}

uint16_t vd_rand_u16(void)
{
	uint16_t v;

	vd_rand_bytes(&v, sizeof(v));
	return v;
}

uint32_t vd_rand_u32(void)
{
	uint32_t v;

	vd_rand_bytes(&v, sizeof(v));
	return v;
}

uint32_t vd_rand_uniform(uint32_t n)
{
	uint32_t r, min;

	if (n < 2)
		return 0;
	/* Reject the low values that would make r % n biased. */
	min = (uint32_t)(-n) % n;
	do {
		r = vd_rand_u32();
	} while (r < min);
	return r % n;
}
