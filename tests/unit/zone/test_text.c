/*
 * Unit tests of the fast zone reader against the ldns reader: for every
 * zone file of the tree and for a text written for each construct of the
 * fast reader's subset, both readers give the same records (owner, rdata,
 * TTL, type, class, line, order) and the same origin; every construct
 * outside the subset makes the fast reader decline, so the ldns reader
 * reads the file and its messages keep their wording.
 */
#include "zone_test.h"

#include <ftw.h>

#include "zone_int.h"

typedef struct both {
	vd_zone_ctx_t fast, ldns;
	uint8_t fast_origin[VD_NAME_MAX], ldns_origin[VD_NAME_MAX];
	int fast_ret, ldns_ret;
} both_t;

static void both_free(both_t *b)
{
	free(b->fast.recs);
	free(b->fast.blob);
	free(b->ldns.recs);
	free(b->ldns.blob);
}

static void read_both(both_t *b, const char *text, size_t len, const char *origin_text)
{
	uint8_t origin[VD_NAME_MAX];
	size_t olen;

	memset(b, 0, sizeof(*b));
	b->fast.path = b->ldns.path = "text";
	b->fast.max_size = b->ldns.max_size = VD_ZONE_FILE_MAX_SIZE;
	if (origin_text)
		assert_int_equal(vd_name_from_text(origin_text, origin, &olen), 0);
	b->fast_ret = vd_zone_read_fast(&b->fast, text, len,
					origin_text ? origin : NULL, b->fast_origin);
	b->ldns_ret = vd_zone_read_ldns(&b->ldns, text, len,
					origin_text ? origin : NULL, b->ldns_origin);
}

/* When the fast reader took the text, the ldns reader must agree on
 * everything. Returns whether the fast reader took it. */
static bool check_same(const both_t *b, const char *what)
{
	if (b->fast_ret == VD_ZONE_NOT_MINE) {
		assert_int_equal(b->fast.nrecs, 0);
		assert_int_equal(b->fast.nerr, 0);
		return false;
	}
	if (b->ldns_ret != 0)
		print_error("%s: ldns reader failed (%d)\n", what, b->ldns_ret);
	assert_int_equal(b->fast_ret, 0);
	assert_int_equal(b->ldns_ret, 0);
	assert_int_equal(b->fast.nerr, 0);
	assert_int_equal(vd_name_len(b->fast_origin), vd_name_len(b->ldns_origin));
	assert_memory_equal(b->fast_origin, b->ldns_origin,
			    vd_name_len(b->ldns_origin));
	if (b->fast.nrecs != b->ldns.nrecs)
		print_error("%s: %zu records, ldns %zu\n", what, b->fast.nrecs,
			    b->ldns.nrecs);
	assert_int_equal(b->fast.nrecs, b->ldns.nrecs);
	for (size_t i = 0; i < b->fast.nrecs; i++) {
		const vd_zone_rec_t *f = &b->fast.recs[i], *l = &b->ldns.recs[i];

		if (f->line != l->line || f->type != l->type || f->ttl != l->ttl)
			print_error("%s: record %zu: line %u/%u type %u/%u ttl %u/%u\n",
				    what, i, f->line, l->line, f->type, l->type, f->ttl,
				    l->ttl);
		assert_int_equal(f->line, l->line);
		assert_int_equal(f->type, l->type);
		assert_int_equal(f->rclass, l->rclass);
		assert_int_equal(f->ttl, l->ttl);
		assert_int_equal(f->seq, l->seq);
		assert_int_equal(f->owner_len, l->owner_len);
		assert_memory_equal(f->owner, l->owner, l->owner_len);
		assert_int_equal(f->rdlen, l->rdlen);
		assert_memory_equal(f->rdata, l->rdata, l->rdlen);
	}
	return true;
}

/* ---- every zone file of the tree ----------------------------------------- */

static unsigned files_seen, files_fast;

static int visit(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	size_t n = strlen(path);
	char *text;
	FILE *fp;
	both_t b;

	(void)ftw;
	if (flag != FTW_F || n < 5 || strcmp(path + n - 5, ".zone") != 0)
		return 0;
	text = malloc((size_t)st->st_size + 1);
	assert_non_null(text);
	fp = fopen(path, "r");
	assert_non_null(fp);
	assert_int_equal(fread(text, 1, (size_t)st->st_size, fp), (size_t)st->st_size);
	fclose(fp);
	files_seen++;
	read_both(&b, text, (size_t)st->st_size, NULL);
	files_fast += check_same(&b, path);
	both_free(&b);
	read_both(&b, text, (size_t)st->st_size, "Example.COM.");
	check_same(&b, path);
	both_free(&b);
	free(text);
	return 0;
}

static void test_tree_files(void **state)
{
	char dir[512];

	(void)state;
	snprintf(dir, sizeof(dir), "%s/tests", VD_SOURCE_DIR);
	assert_int_equal(nftw(dir, visit, 16, FTW_PHYS), 0);
	snprintf(dir, sizeof(dir), "%s/zones", VD_SOURCE_DIR);
	assert_int_equal(nftw(dir, visit, 16, FTW_PHYS), 0);
	/* vpcdns-import's golden files are all in the subset. */
	assert_true(files_seen >= 40);
	print_message("%u zone files, %u read by the fast reader\n", files_seen,
		      files_fast);
	assert_true(files_fast >= 30);
}

/* ---- each construct of the subset ----------------------------------------- */

static const char *const accepted[] = {
	/* vpcdns-import's own form. */
	"; Zone ec2.us-east-1.amazonaws.com. of vpc-0a1b2c3d4e5f60718.\n"
	";\n$ORIGIN ec2.us-east-1.amazonaws.com.\n$TTL 60\n"
	"@ 60 IN SOA vpcdns.invalid. hostmaster.vpcdns.invalid. 1 3600 600 86400 60\n"
	"@ 60 IN A 10.0.1.15 ; eni-0123 use1-az1\n"
	"@ 60 IN AAAA 2001:db8::15 ; eni-0123\n",
	/* bench/scale.sh's form. */
	"$ORIGIN svc1.us-east-1.amazonaws.com.\n$TTL 60\n"
	"@ SOA vpcdns.invalid. hm.vpcdns.invalid. 1 3600 600 86400 60\n"
	"@ A 10.0.0.2\n@ A 10.100.0.2\n",
	/* Relative and absolute names, @ in rdata, NS, PTR, CNAME targets. */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n@ NS ns\n@ NS ns.other.\n"
	"www CNAME web\nalias CNAME www.example.org.\napex CNAME @\n"
	"web.sub A 192.0.2.1\nweb2.example. A 192.0.2.2\n1 PTR host\n* A 192.0.2.9\n"
	"_svc._tcp CNAME target\n",
	/* Owner carried over (blank owner, space or tab), after @ too. */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n  NS ns\n\tNS ns2\n"
	"www A 192.0.2.1\n A 192.0.2.2\n\t300 IN A 192.0.2.3\n",
	/* TTL and class, each optional; TTL 0; IN in any case. */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na 300 IN A 192.0.2.1\n"
	"b 300 A 192.0.2.2\nc IN A 192.0.2.3\nd A 192.0.2.4\ne 0 in A 192.0.2.5\n"
	"f 4294967295 In A 192.0.2.6\n",
	/* $TTL and $ORIGIN changing along the file; $TTL 0 means 3600 to
	 * ldns for records without a TTL. */
	"$ORIGIN example.\n$TTL 10\n@ SOA ns h 1 2 3 4 5\na A 192.0.2.1\n$TTL 20\n"
	"b A 192.0.2.2\n$ORIGIN sub.example.\nc A 192.0.2.3\n@ A 192.0.2.4\n"
	"$TTL 0\nd A 192.0.2.5\n$TTL\t7 ; seven\n$ORIGIN\tother.example. ; c\n"
	"e A 192.0.2.6\n",
	/* AAAA forms. */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na AAAA ::\nb AAAA ::1\n"
	"c AAAA 2001:DB8::1\nd AAAA ::ffff:192.0.2.1\ne AAAA 2001:db8:0:0:1:0:0:1\n"
	"f AAAA fe80:0000:0000:0000:0204:61ff:fe9d:f156\n",
	/* Comments everywhere, blank lines, blanks at line ends. */
	"; head\n\n   \n$ORIGIN example. ; origin\n\n@ SOA ns h 1 2 3 4 5 ; soa\n"
	"  ; indented comment\nwww A 192.0.2.1;tight\nwww2 A 192.0.2.2 \t \n"
	"; (parentheses) \"quotes\" \\backslash in a comment\n",
	/* CRLF line ends. */
	"$ORIGIN example.\r\n$TTL 5\r\n@ SOA ns h 1 2 3 4 5\r\nwww A 192.0.2.1\r\n"
	"\r\n; c\r\n A 192.0.2.2 ; c\r\n",
	/* Upper-case names: owners lower-cased, rdata names kept. */
	"$ORIGIN Example.COM.\n@ SOA NS.Example.COM. H 1 2 3 4 5\nWWW A 192.0.2.1\n"
	"Mail.EXAMPLE.com. CNAME WWW\nx CNAME Y.Other.\n",
	/* A final line without a newline. */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\nwww A 192.0.2.1",
	/* No $ORIGIN: absolute names, the SOA's owner becomes the origin. */
	"ex.ample. 60 IN SOA ns hostmaster 1 2 3 4 300\nns A 192.0.2.53\n"
	"other.test. A 192.0.2.9\n",
	/* Absolute records before the SOA, and a $ORIGIN before it. */
	"www.example. A 192.0.2.1\n$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n",
	/* Names of 63-byte labels and 255 bytes. */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n"
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A 192.0.2.1\n"
	"a234567890123456789012345678901234567890123456789012345678901."
	"b234567890123456789012345678901234567890123456789012345678901."
	"c234567890123456789012345678901234567890123456789012345678901."
	"d2345678901234567890123456789012345678901234567890123456789. A 192.0.2.2\n",
	/* SOA numbers up to 2^32 - 1, leading zeros. */
	"$ORIGIN example.\n@ SOA ns h 4294967295 0 007 4294967295 1\n",
	/* Only a SOA; an empty file and comments only with an origin given. */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n",
};

/* Texts read with the origin given (these need it: relative names, or no
 * SOA at all). */
static const char *const accepted_with_origin[] = {
	"@ SOA ns h 1 2 3 4 5\nwww A 192.0.2.1\n",
	"",
	"; only a comment\n",
	"www A 192.0.2.1\n",
	" A 192.0.2.1\n",
	"@ SOA ns h 1 2 3 4 5\n$ORIGIN other.\nx A 192.0.2.1\n",
};

static void test_accepted(void **state)
{
	char what[32];
	both_t b;

	(void)state;
	for (size_t i = 0; i < sizeof(accepted) / sizeof(accepted[0]); i++) {
		snprintf(what, sizeof(what), "accepted[%zu]", i);
		read_both(&b, accepted[i], strlen(accepted[i]), NULL);
		if (b.fast_ret != 0)
			print_error("%s declined\n", what);
		assert_true(check_same(&b, what));
		assert_true(b.fast.nrecs > 0);
		both_free(&b);
		read_both(&b, accepted[i], strlen(accepted[i]), "given.test.");
		assert_true(check_same(&b, what));
		both_free(&b);
	}
	for (size_t i = 0;
	     i < sizeof(accepted_with_origin) / sizeof(accepted_with_origin[0]); i++) {
		snprintf(what, sizeof(what), "accepted_with_origin[%zu]", i);
		read_both(&b, accepted_with_origin[i], strlen(accepted_with_origin[i]),
			  "Example.COM");
		if (b.fast_ret != 0)
			print_error("%s declined\n", what);
		assert_true(check_same(&b, what));
		both_free(&b);
	}
}

/* Records, lines and TTLs of one text, spelled out, so that the two
 * readers cannot agree on a wrong answer. */
static void test_values(void **state)
{
	static const char text[] = "; c\n$ORIGIN Example.\n$TTL 0\r\n"
				   "@ 7 SOA ns h 1 2 3 4 5\n\n"
				   "  A 192.0.2.1\n"
				   "Www.Sub CNAME Web\n";
	both_t b;

	(void)state;
	read_both(&b, text, sizeof(text) - 1, NULL);
	assert_true(check_same(&b, "values"));
	assert_int_equal(b.fast.nrecs, 3);
	assert_memory_equal(b.fast_origin, "\7Example", 9);
	assert_int_equal(b.fast.recs[0].line, 4);
	assert_int_equal(b.fast.recs[0].ttl, 7);
	assert_int_equal(b.fast.recs[0].type, VD_T_SOA);
	assert_int_equal(b.fast.recs[0].rdlen, 12 + 11 + 20);
	assert_memory_equal(b.fast.recs[0].rdata, "\2ns\7Example\0\1h\7Example\0", 23);
	assert_int_equal(b.fast.recs[1].line, 6);
	assert_int_equal(b.fast.recs[1].ttl, 3600); /* $TTL 0: ldns's default */
	assert_memory_equal(b.fast.recs[1].owner, "\7example", 9);
	assert_memory_equal(b.fast.recs[1].rdata, "\xc0\x00\x02\x01", 4);
	assert_int_equal(b.fast.recs[2].line, 7);
	assert_memory_equal(b.fast.recs[2].owner, "\3www\3sub\7example", 17);
	assert_memory_equal(b.fast.recs[2].rdata, "\3Web\7Example", 13);
	both_free(&b);
}

/* ---- what the fast reader leaves to ldns ---------------------------------- */

static const char *const declined[] = {
	"$ORIGIN example.\n@ SOA ns h ( 1 2 3 4 5 )\n",		       /* parentheses */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\nt TXT \"x\"\n",       /* quotes, TXT */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na\\.b A 192.0.2.1\n", /* escape */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n$INCLUDE x.zone\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\nm MX 10 mail\n", /* other type */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na TYPE1 192.0.2.1\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na CH A 192.0.2.1\n", /* class */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na IN 300 A 192.0.2.1\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na 1h A 192.0.2.1\n", /* units */
	"$ORIGIN example.\n$TTL 1h\n@ SOA ns h 1 2 3 4 5\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na A 192.0.2\n", /* bad rdata */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na A 192.0.2.1 extra\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 4294967296\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na AAAA 1.2.3.4\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na..b A 192.0.2.1\n",
	("$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n"
	 "a234567890123456789012345678901234567890123456789012345678901234 A "
	 "1.2.3.4\n"),
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na\fb A 192.0.2.1\n", /* control */
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na\rb A 192.0.2.1\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\na A 192.0.2.1\n\0\n",
	"$ORIGIN example\n@ SOA ns h 1 2 3 4 5\n", /* relative $ORIGIN */
	"$ORIGIN .\n@ SOA ns h 1 2 3 4 5\n",
	"$ORIGINx example.\n",
	"$TTL\n",
	"$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\n $TTL 5\n",
	/* Without an origin: relative names, @ and a blank owner before
	 * any $ORIGIN or SOA, an SOA under the placeholder, no SOA. */
	"www A 192.0.2.1\nexample. SOA ns h 1 2 3 4 5\n",
	"@ SOA ns h 1 2 3 4 5\n",
	" A 192.0.2.1\nexample. SOA ns h 1 2 3 4 5\n",
	"x.example. CNAME y\nexample. SOA ns h 1 2 3 4 5\n",
	"a.vpcdns-no-origin.invalid. SOA ns h 1 2 3 4 5\n",
	"www.example. A 192.0.2.1\n",
	"",
};

/* ldns reads at most 64 KiB of a record's rdata text: a line that long
 * is left to it. */
static void test_long_line(void **state)
{
	static const char head[] = "$ORIGIN example.\n@ SOA ns h 1 2 3 4";
	uint8_t found[VD_NAME_MAX];
	size_t len = sizeof(head) - 1 + 70000 + 3;
	char *text = malloc(len);
	vd_zone_ctx_t c = { .path = "text" };

	(void)state;
	assert_non_null(text);
	memcpy(text, head, sizeof(head) - 1);
	memset(text + sizeof(head) - 1, ' ', 70000);
	memcpy(text + len - 3, " 5\n", 3);
	assert_int_equal(vd_zone_read_fast(&c, text, len, NULL, found),
			 VD_ZONE_NOT_MINE);
	assert_int_equal(vd_zone_read_ldns(&c, text, len, NULL, found), VD_ECONF);
	free(c.recs);
	free(c.blob);
	free(text);
}

static void test_declined(void **state)
{
	uint8_t found[VD_NAME_MAX];
	vd_zone_ctx_t c;

	(void)state;
	for (size_t i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
		size_t len = strlen(declined[i]);

		if (i == 19)
			len += 2; /* the NUL and what follows it */
		memset(&c, 0, sizeof(c));
		c.path = "text";
		if (vd_zone_read_fast(&c, declined[i], len, NULL, found) !=
		    VD_ZONE_NOT_MINE)
			print_error("declined[%zu] was taken\n", i);
		assert_int_equal(vd_zone_read_fast(&c, declined[i], len, NULL, found),
				 VD_ZONE_NOT_MINE);
		assert_int_equal(c.nrecs, 0);
		assert_int_equal(c.nerr, 0);
		free(c.recs);
		free(c.blob);
	}
}

/* A file in the subset but for one bad record is read by ldns, which
 * words the message and counts the line as before. */
static void test_error_from_ldns(void **state)
{
	(void)state;
	zt_load_fails("$ORIGIN example.\r\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n\n"
		      "www A 192.0.2.1\n"
		      "bad A 192.0.2\n",
		      NULL, ":6: Syntax error, could not parse the RR's rdata");
	zt_load_fails("$ORIGIN example.\n@ SOA ns h 1 2 3 4 5\nwww IN 60 A 192.0.2.1\n",
		      NULL, ":3: Syntax error, could not parse the RR's rdata");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tree_files),
		cmocka_unit_test(test_accepted),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_declined),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_error_from_ldns),
	};

	return cmocka_run_group_tests(tests, zt_setup, zt_teardown);
}
