/*
 * Unit tests of zone images: a zone taken back from the bytes of its block
 * answers exactly like the zone it was taken from, after that zone is
 * gone; bytes that are not a zone block (a pointer moved out of the
 * block, the wrong length, any single byte of the structure changed) are
 * refused or give a zone every pointer of which stays inside its block,
 * never a crash (run under ASan in CI).
 */
#include "zone_test.h"

#include "zone_int.h"

static vd_zone_t *load(const char *path)
{
	vd_zone_t *z = NULL;
	vd_errlist_t e;

	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load(path, NULL, VD_ZONE_FALLBACK_NXDOMAIN, &z, &e),
			 0);
	vd_errlist_deinit(&e);
	return z;
}

/* Every RRset of a zone as text, in a canonical order. */
typedef struct dump {
	char *text;
	size_t len, cap;
} dump_t;

static void put(dump_t *d, const void *p, size_t n)
{
	if (d->len + n > d->cap) {
		d->cap = (d->len + n) * 2;
		d->text = realloc(d->text, d->cap);
		assert_non_null(d->text);
	}
	memcpy(d->text + d->len, p, n);
	d->len += n;
}

static void on_rrset(void *arg, const uint8_t *owner, const vd_rrset_t *rs)
{
	dump_t *d = arg;

	put(d, owner, vd_name_len(owner));
	put(d, &rs->type, sizeof(rs->type));
	put(d, &rs->ttl, sizeof(rs->ttl));
	put(d, &rs->count, sizeof(rs->count));
	for (unsigned k = 0; k < rs->count; k++) {
		put(d, &rs->rdlen[k], sizeof(rs->rdlen[k]));
		put(d, rs->rdata[k], rs->rdlen[k]);
	}
}

/* The records of z as bytes, sorted so that the walk order (slot order,
 * the same for both zones anyway) does not matter. */
static dump_t dump(const vd_zone_t *z)
{
	dump_t d = { 0 };

	vd_zone_foreach_rrset(z, on_rrset, &d);
	return d;
}

static void same_answers(const vd_zone_t *a, const vd_zone_t *b, const char *qname)
{
	uint8_t name[VD_NAME_MAX];
	size_t len;
	const vd_rrset_t *ra = NULL, *rb = NULL;
	bool wa = false, wb = false;

	assert_int_equal(vd_name_from_text(qname, name, &len), 0);
	vd_name_lower(name, name);
	const uint16_t types[] = { VD_T_A, VD_T_AAAA, VD_T_SOA, VD_T_CNAME, VD_T_TXT };
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(vd_zone_lookup(a, name, types[i], &ra, &wa),
				 vd_zone_lookup(b, name, types[i], &rb, &wb));
		assert_int_equal(wa, wb);
		assert_int_equal(ra == NULL, rb == NULL);
		if (ra) {
			assert_int_equal(ra->count, rb->count);
			assert_int_equal(ra->ttl, rb->ttl);
			for (unsigned k = 0; k < ra->count; k++)
				assert_memory_equal(ra->rdata[k], rb->rdata[k],
						    ra->rdlen[k]);
		}
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	const char *files[] = { VD_TEST_DATA "/zone/example.zone",
				VD_TEST_DATA "/zone/lookup.zone" };
	for (size_t f = 0; f < sizeof(files) / sizeof(files[0]); f++) {
		vd_zone_t *z = load(files[f]), *back = NULL;
		size_t len = vd_zone_image_copy(z, NULL, 0);
		uint64_t base = (uint64_t)(uintptr_t)z;
		void *copy = malloc(len);

		assert_non_null(copy);
		assert_int_equal(vd_zone_image_copy(z, copy, len), len);
		assert_int_equal(vd_zone_image_load(copy, len, base, &back), 0);
		assert_non_null(back);
		assert_ptr_not_equal(back, z);
		dump_t da = dump(z), db = dump(back);
		assert_int_equal(da.len, db.len);
		assert_memory_equal(da.text, db.text, da.len);
		free(da.text);
		free(db.text);
		char apex[VD_NAME_TEXT];
		vd_name_to_text(vd_zone_apex(z), apex, sizeof(apex));
		const char *sub[] = { "", "www.", "nope.", "a.b.", "x.wild.", "*." };
		for (size_t i = 0; i < sizeof(sub) / sizeof(sub[0]); i++) {
			char q[VD_NAME_TEXT + 8];
			snprintf(q, sizeof(q), "%s%s", sub[i], apex);
			same_answers(z, back, q);
		}
		assert_string_equal(vd_zone_path(back), vd_zone_path(z));
		assert_int_equal(vd_zone_fallback(back), vd_zone_fallback(z));
		assert_int_equal(vd_zone_rr_count(back), vd_zone_rr_count(z));
		assert_int_equal(vd_zone_neg_ttl(back), vd_zone_neg_ttl(z));
		assert_non_null(vd_zone_soa(back));
		/* Nothing of the copy points at the original or the bytes. */
		vd_zone_unref(z);
		memset(copy, 0xa5, len);
		free(copy);
		dump_t dc = dump(back);
		assert_int_equal(dc.len, db.len);
		free(dc.text);
		vd_zone_unref(back);
	}
}

/* The same file loaded again is reused from its image: the identity
 * travels with the zone. */
static void test_identity_kept(void **state)
{
	(void)state;
	const char *path = zt_write("id.zone", "$ORIGIN id.test.\n$TTL 60\n"
					       "@ SOA ns hm 1 2 3 4 5\n@ A 10.0.0.1\n");
	vd_zone_t *z = load(path), *back = NULL, *again = NULL;
	uint8_t img[4096];
	size_t len = vd_zone_image_copy(z, img, sizeof(img));
	assert_true(len <= sizeof(img));
	assert_int_equal(vd_zone_image_load(img, len, (uint64_t)(uintptr_t)z, &back),
			 0);
	/* Written just now: racy, in the image as in the zone. */
	assert_int_equal(back->racy, z->racy);
	back->racy = false;
	vd_zone_opts_t o = { .fallback = VD_ZONE_FALLBACK_NXDOMAIN };
	bool reused = false;
	vd_errlist_t e;
	vd_errlist_init(&e);
	assert_int_equal(vd_zone_load_reuse(path, &o, back, &again, &reused, &e), 0);
	assert_true(reused);
	assert_ptr_equal(again, back);
	vd_zone_unref(again);
	/* The same content written again: read (new identity), and the zone
	 * in hand stands for it instead of a second copy. */
	zt_write("id.zone", "$ORIGIN id.test.\n$TTL 60\n"
			    "@ SOA ns hm 1 2 3 4 5\n@ A 10.0.0.1\n");
	assert_int_equal(vd_zone_load_reuse(path, &o, back, &again, &reused, &e), 0);
	assert_false(reused);
	assert_ptr_equal(again, back);
	assert_int_equal(atomic_load(&back->refs), 2);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_true(back->ino == st.st_ino &&
		    back->mtime.tv_nsec == st.st_mtim.tv_nsec &&
		    back->mtime.tv_sec == st.st_mtim.tv_sec);
	vd_zone_unref(again);
	/* Other text (spacing, a relative name written out), the same data:
	 * parsed, and shared too. */
	zt_write("id.zone", "$ORIGIN id.test.\n$TTL 60\n"
			    "@   SOA ns.id.test. hm 1 2 3 4 5\nid.test.  A 10.0.0.1\n");
	assert_int_equal(vd_zone_load_reuse(path, &o, back, &again, &reused, &e), 0);
	assert_false(reused);
	assert_ptr_equal(again, back);
	vd_zone_unref(again);
	/* A rewrite (same size, new content) is read again. */
	zt_write("id.zone", "$ORIGIN id.test.\n$TTL 60\n"
			    "@ SOA ns hm 1 2 3 4 5\n@ A 10.0.0.2\n");
	assert_int_equal(vd_zone_load_reuse(path, &o, back, &again, &reused, &e), 0);
	assert_false(reused);
	assert_ptr_not_equal(again, back);
	vd_zone_unref(again);
	vd_errlist_deinit(&e);
	vd_zone_unref(back);
	vd_zone_unref(z);
}

static void test_refused(void **state)
{
	(void)state;
	vd_zone_t *z = load(VD_TEST_DATA "/zone/example.zone"), *back = NULL;
	size_t len = vd_zone_image_copy(z, NULL, 0);
	uint8_t *img = malloc(len), *copy = malloc(len);
	uint64_t base = (uint64_t)(uintptr_t)z;

	assert_non_null(img);
	assert_non_null(copy);
	vd_zone_image_copy(z, img, len);
	/* Wrong length, too short, another base. */
	assert_int_equal(vd_zone_image_load(img, len - 1, base, &back), VD_EMALF);
	assert_int_equal(vd_zone_image_load(img, 8, base, &back), VD_EMALF);
	assert_int_equal(vd_zone_image_load(img, len, base + 4096, &back), VD_EMALF);
	assert_null(back);
	/* A slot pointing past the block. */
	memcpy(copy, img, len);
	vd_zone_t *h = (vd_zone_t *)copy;
	size_t slots_off = (size_t)((const uint8_t *)z->slots - (const uint8_t *)z);
	for (size_t i = 0; i <= h->mask; i++) {
		uint64_t p;
		memcpy(&p, copy + slots_off + i * 8, 8);
		if (p) {
			p += len;
			memcpy(copy + slots_off + i * 8, &p, 8);
			break;
		}
	}
	assert_int_equal(vd_zone_image_load(copy, len, base, &back), VD_EMALF);
	/* Every byte of the header, index, nodes, RRsets and pointer arrays
	 * changed in turn: refused, or a zone that can be walked and looked
	 * up without leaving its block (ASan would stop it). */
	size_t structure = (size_t)(vd_zone_apex(z) - (const uint8_t *)z);
	unsigned refused = 0;
	for (size_t at = 0; at < structure; at++) {
		memcpy(copy, img, len);
		copy[at] ^= 0x41;
		int r = vd_zone_image_load(copy, len, base, &back);
		if (r == VD_EMALF) {
			refused++;
			continue;
		}
		assert_int_equal(r, 0);
		dump_t d = dump(back);
		free(d.text);
		same_answers(back, back, "www.example.com.");
		vd_zone_unref(back);
	}
	assert_true(refused > 0);
	free(copy);
	free(img);
	vd_zone_unref(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_identity_kept),
		cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
