/*
 * libFuzzer target for upstream responses: every input is offered to the
 * cache as the response to a fixed question (store re-encodes it, so it
 * walks every record), then looked up and written back for a client as a
 * fresh and as a stale hit. Whatever is stored must come back as a
 * message that parses, with the client's ID and question.
 */
#include <stdlib.h>
#include <string.h>

#include "vpcdns/cache.h"
#include "vpcdns/util.h"
#include "vpcdns/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t fake_now;
static uint64_t clock_cb(void *arg)
{
	(void)arg;
	return fake_now;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static vd_cache_t *cache;
	static uint8_t out[65535];
	static vd_rr_t rr;
	static const vd_cache_policy_t pol = {
		.max_ttl = 86400,
		.max_negative_ttl = 3600,
		.stale_max = 86400,
		.prefetch = true,
	};
	if (cache == NULL)
		cache = vd_cache_new(1 << 20, clock_cb, NULL);

	/* The question is the input's own, when it has one, so stored
	 * responses are not all rejected for a mismatch upstream of here. */
	uint8_t qname[VD_NAME_MAX] = { 0 };
	uint16_t qtype = VD_T_A, qclass = VD_C_IN;
	vd_rr_iter_t it;
	if (vd_rr_iter_init(&it, data, size, qname, &qtype, &qclass) != 0)
		return 0;
	vd_name_lower(qname, qname);
	vd_cache_key_t k = {
		.group = 1, .qname_lc = qname, .qtype = qtype, .qclass = qclass
	};
	if (vd_cache_store(cache, &k, data, size, &pol) != 0)
		return 0;

	vd_query_msg_t q = { .id = 0x4242, .qtype = qtype, .qclass = qclass };
	q.qname_len = vd_name_len(qname);
	memcpy(q.qname, qname, q.qname_len);
	memcpy(q.qname_lc, qname, q.qname_len);
	for (int stale = 0; stale < 2; stale++) {
		vd_cache_hit_t h;
		if (vd_cache_lookup(cache, &k, &pol, &h) == VD_CACHE_MISS)
			abort(); /* just stored */
		size_t n = vd_cache_write(&h, &q, VD_F_QR | VD_F_RA, stale, out,
					  sizeof(out));
		if (n == 0 || vd_hdr_id(out) != 0x4242)
			abort();
		int rc;
		if (vd_rr_iter_init(&it, out, n, NULL, NULL, NULL) != 0)
			abort();
		while ((rc = vd_rr_iter_next(&it, &rr)) == 1)
			if (stale && rr.ttl != VD_CACHE_STALE_TTL)
				abort();
		if (rc != 0)
			abort();
	}
	fake_now += 1000;
	return 0;
}
