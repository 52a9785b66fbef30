/*
 * Unit tests of the rules that turn DnsEntries into records: the shape
 * classification of every kind of name AWS prints (regional, zonal, S3
 * wildcards, private names with and without wildcards, China regions, Local
 * Zones), the names rejected and why, the record types each
 * DnsRecordIpType gives vpce and private names, and the orders that make the
 * output deterministic.
 */
#include "import_test.h"

#include <sys/socket.h>

#define EP "vpce-0ec2a1b2c3d4e5f60"

static void test_invalid_args(void **state)
{
	vd_import_iptype_t t = VD_IMPORT_IP_DUALSTACK;
	vd_import_name_t n;
	const char *why = NULL;
	bool a = false;

	(void)state;
	assert_int_equal(vd_import_name_classify(NULL, EP, &n, &why), -EINVAL);
	assert_int_equal(vd_import_name_classify("x.example.com", NULL, &n, &why),
			 -EINVAL);
	assert_int_equal(vd_import_name_classify("x.example.com", EP, NULL, &why),
			 -EINVAL);
	assert_null(why);
	/* why may be NULL. */
	assert_int_equal(vd_import_name_classify("", EP, &n, NULL), VD_EMALF);
	assert_int_equal(vd_import_iptype_parse(NULL, &t), VD_EMALF);
	assert_int_equal(vd_import_iptype_parse("ipv4", NULL), VD_EMALF);
	assert_int_equal(t, VD_IMPORT_IP_DUALSTACK);
	vd_import_iptype_families(VD_IMPORT_IP_IPV4, true, NULL, NULL);
	vd_import_iptype_families(VD_IMPORT_IP_IPV4, true, &a, NULL);
	assert_true(a);
	assert_string_equal(vd_import_iptype_name((vd_import_iptype_t)42), "?");
	assert_false(imp_is_id(NULL, "vpc-"));
	assert_false(imp_is_az(NULL));
}

static void classify_ok(const char *dns, vd_import_name_kind_t kind, bool wild,
			const char *zone, const char *owner, const char *az)
{
	vd_import_name_t n;
	const char *why = "unset";

	if (vd_import_name_classify(dns, EP, &n, &why) != 0)
		fail_msg("%s: %s", dns, why);
	assert_int_equal(n.kind, kind);
	assert_int_equal(n.wildcard, wild);
	assert_string_equal(n.zone, zone);
	assert_string_equal(n.owner, owner);
	assert_string_equal(n.az, az);
}

static void test_vpce_names(void **state)
{
	(void)state;
	classify_ok(EP "-x7k2m9qp.ec2.us-east-1.vpce.amazonaws.com",
		    VD_IMPORT_NAME_REGIONAL, false, IT_VPCE_ZONE, EP "-x7k2m9qp.ec2",
		    "");
	classify_ok(EP "-x7k2m9qp-us-east-1b.ec2.us-east-1.vpce.amazonaws.com",
		    VD_IMPORT_NAME_ZONAL, false, IT_VPCE_ZONE,
		    EP "-x7k2m9qp-us-east-1b.ec2", "us-east-1b");
	/* Several service labels, a Local Zone, a China region. */
	classify_ok(EP "-8fj3k2lq.dkr.ecr.us-east-1.vpce.amazonaws.com",
		    VD_IMPORT_NAME_REGIONAL, false, IT_VPCE_ZONE,
		    EP "-8fj3k2lq.dkr.ecr", "");
	classify_ok(EP "-abc-us-west-2-lax-1a.ec2.us-west-2.vpce.amazonaws.com",
		    VD_IMPORT_NAME_ZONAL, false, "us-west-2.vpce.amazonaws.com",
		    EP "-abc-us-west-2-lax-1a.ec2", "us-west-2-lax-1a");
	classify_ok(EP "-abc.ec2.cn-north-1.vpce.amazonaws.com.cn",
		    VD_IMPORT_NAME_REGIONAL, false, "cn-north-1.vpce.amazonaws.com.cn",
		    EP "-abc.ec2", "");
	/* An endpoint service of another account. */
	classify_ok(EP
		    "-m3n4b5v6.vpce-svc-0a1b2c3d4e5f60718.us-east-1.vpce.amazonaws.com",
		    VD_IMPORT_NAME_REGIONAL, false, IT_VPCE_ZONE,
		    EP "-m3n4b5v6.vpce-svc-0a1b2c3d4e5f60718", "");
}

static void test_s3_wildcards(void **state)
{
	(void)state;
	classify_ok("*." EP "-9hnenorg.s3.us-east-1.vpce.amazonaws.com",
		    VD_IMPORT_NAME_REGIONAL, true, IT_VPCE_ZONE, "*." EP "-9hnenorg.s3",
		    "");
	classify_ok("*." EP "-9hnenorg-us-east-1c.s3.us-east-1.vpce.amazonaws.com",
		    VD_IMPORT_NAME_ZONAL, true, IT_VPCE_ZONE,
		    "*." EP "-9hnenorg-us-east-1c.s3", "us-east-1c");
	classify_ok("s3.us-east-1.amazonaws.com", VD_IMPORT_NAME_PRIVATE, false,
		    "s3.us-east-1.amazonaws.com", "@", "");
	classify_ok("*.s3.us-east-1.amazonaws.com", VD_IMPORT_NAME_PRIVATE, true,
		    "s3.us-east-1.amazonaws.com", "*", "");
	classify_ok("*.s3-control.us-east-1.amazonaws.com", VD_IMPORT_NAME_PRIVATE,
		    true, "s3-control.us-east-1.amazonaws.com", "*", "");
	classify_ok("s3-accesspoint.us-east-1.amazonaws.com", VD_IMPORT_NAME_PRIVATE,
		    false, "s3-accesspoint.us-east-1.amazonaws.com", "@", "");
}

static void test_private_names(void **state)
{
	(void)state;
	classify_ok("ec2.us-east-1.amazonaws.com", VD_IMPORT_NAME_PRIVATE, false,
		    "ec2.us-east-1.amazonaws.com", "@", "");
	classify_ok("*.dkr.ecr.us-east-1.amazonaws.com", VD_IMPORT_NAME_PRIVATE, true,
		    "dkr.ecr.us-east-1.amazonaws.com", "*", "");
	classify_ok("ecr.eu-west-2.api.aws", VD_IMPORT_NAME_PRIVATE, false,
		    "ecr.eu-west-2.api.aws", "@", "");
	/* Case and the final dot do not matter; the result is lower case. */
	classify_ok("Kinesis.US-East-1.AmazonAWS.com.", VD_IMPORT_NAME_PRIVATE, false,
		    "kinesis.us-east-1.amazonaws.com", "@", "");
	classify_ok("_x.corp.example", VD_IMPORT_NAME_PRIVATE, false, "_x.corp.example",
		    "@", "");
	/* A private name never lands in the vpce zone even when it mentions
	 * vpce, and a vpce name of the endpoint's shape is never private. */
	classify_ok("vpce.example.com", VD_IMPORT_NAME_PRIVATE, false,
		    "vpce.example.com", "@", "");
}

static void classify_bad(const char *dns, const char *want_why)
{
	vd_import_name_t n;
	const char *why = NULL;

	if (vd_import_name_classify(dns, EP, &n, &why) != VD_EMALF)
		fail_msg("accepted '%s'", dns);
	assert_non_null(why);
	if (strcmp(why, want_why) != 0)
		fail_msg("'%s': got '%s', want '%s'", dns, why, want_why);
}

static void test_rejected(void **state)
{
	const char *foreign = "not a name of this endpoint";
	char label64[100];

	(void)state;
	classify_bad("", "not a host name");
	classify_bad(".", "not a host name");
	classify_bad("a..b.com", "not a host name");
	classify_bad("a.b.com..", "not a host name");
	classify_bad("bad/name.example.com", "not a host name");
	classify_bad("spa ce.example.com", "not a host name");
	classify_bad("new\nline.example.com", "not a host name");
	classify_bad("x.*.example.com", "'*' is only allowed as the whole first label");
	classify_bad("a*.example.com", "'*' is only allowed as the whole first label");
	classify_bad("*", "'*' is only allowed as the whole first label");
	classify_bad("**.example.com", "'*' is only allowed as the whole first label");
	classify_bad("localhost", "a private DNS name needs at least two labels");
	classify_bad("*.com", "a private DNS name needs at least two labels");
	snprintf(label64, sizeof(label64), "%064d.example.com", 0);
	classify_bad(label64, "not a host name");
	/* Under vpce.amazonaws.com but not this endpoint's. */
	classify_bad("vpce-0aaaaaaaaaaaaaaaa-x7k2m9qp.ec2.us-east-1.vpce.amazonaws.com",
		     foreign);
	classify_bad(EP "0-x7k2m9qp.ec2.us-east-1.vpce.amazonaws.com", foreign);
	classify_bad(EP ".ec2.us-east-1.vpce.amazonaws.com", foreign);
	classify_bad(EP "-.ec2.us-east-1.vpce.amazonaws.com", foreign);
	classify_bad(EP "-x7k2m9qp-.ec2.us-east-1.vpce.amazonaws.com", foreign);
	classify_bad(EP "-x7k2m9qp.us-east-1.vpce.amazonaws.com", foreign);
	classify_bad("ec2.us-east-1.vpce.amazonaws.com", foreign);
	classify_bad("us-east-1.vpce.amazonaws.com", foreign);
	classify_bad("vpce.amazonaws.com", foreign);
	classify_bad("*.vpce.amazonaws.com", foreign);
	classify_bad("bucket." EP "-9hnenorg.s3.us-east-1.vpce.amazonaws.com", foreign);
}

static void families(vd_import_iptype_t t, bool vpce, bool want_a, bool want_aaaa)
{
	bool a = !want_a, aaaa = !want_aaaa;

	vd_import_iptype_families(t, vpce, &a, &aaaa);
	if (a != want_a || aaaa != want_aaaa)
		fail_msg("%s on a %s name: A %d AAAA %d", vd_import_iptype_name(t),
			 vpce ? "vpce" : "private", a, aaaa);
}

static void test_iptype(void **state)
{
	static const char *const names[] = { "ipv4", "ipv6", "dualstack",
					     "service-defined" };
	vd_import_iptype_t t;

	(void)state;
	for (int i = 0; i < 4; i++) {
		assert_int_equal(vd_import_iptype_parse(names[i], &t), 0);
		assert_int_equal(t, i);
		assert_string_equal(vd_import_iptype_name(t), names[i]);
	}
	assert_int_equal(vd_import_iptype_parse("IPv4", &t), VD_EMALF);
	assert_int_equal(vd_import_iptype_parse("dual-stack", &t), VD_EMALF);
	assert_int_equal(vd_import_iptype_parse("", &t), VD_EMALF);
	families(VD_IMPORT_IP_IPV4, true, true, false);
	families(VD_IMPORT_IP_IPV4, false, true, false);
	families(VD_IMPORT_IP_IPV6, true, false, true);
	families(VD_IMPORT_IP_IPV6, false, false, true);
	families(VD_IMPORT_IP_DUALSTACK, true, true, true);
	families(VD_IMPORT_IP_DUALSTACK, false, true, true);
	/* service-defined: A everywhere, AAAA only on the vpce names. */
	families(VD_IMPORT_IP_SERVICE_DEFINED, true, true, true);
	families(VD_IMPORT_IP_SERVICE_DEFINED, false, true, false);
}

static void test_orders(void **state)
{
	static const char *const sorted[] = {
		"@",
		"*",
		"a",
		"*.a",
		"b.a",
		"z.a",
		"vpce-1.api.ecr",
		"vpce-2.api.ecr",
		"vpce-1.dkr.ecr",
		"vpce-1-us-east-1a.dkr.ecr",
		"vpce-1.ecr2",
	};
	const size_t n = sizeof(sorted) / sizeof(sorted[0]);
	vd_cidr_t c[5];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			int r = imp_owner_cmp(sorted[i], sorted[j]);

			if ((i < j && r >= 0) || (i > j && r <= 0) ||
			    (i == j && r != 0))
				fail_msg("'%s' vs '%s': %d", sorted[i], sorted[j], r);
		}
	}
	assert_int_equal(vd_cidr_parse("10.0.0.0/8", &c[0]), 0);
	assert_int_equal(vd_cidr_parse("10.0.0.0/16", &c[1]), 0);
	assert_int_equal(vd_cidr_parse("10.0.2.0/24", &c[2]), 0);
	assert_int_equal(vd_cidr_parse("192.168.0.0/24", &c[3]), 0);
	assert_int_equal(vd_cidr_parse("::/64", &c[4]), 0);
	for (int i = 0; i < 5; i++) {
		for (int j = 0; j < 5; j++) {
			int r = imp_cidr_cmp(&c[i], &c[j]);

			assert_true(i < j ? r < 0 : i > j ? r > 0 : r == 0);
		}
	}
}

static void test_ids(void **state)
{
	(void)state;
	assert_true(imp_is_id("vpc-0a1b2c3d4e5f60718", "vpc-"));
	assert_true(imp_is_id("subnet-8EXAMPLE", "subnet-"));
	assert_false(imp_is_id("vpc-", "vpc-"));
	assert_false(imp_is_id("vpc-../../etc", "vpc-"));
	assert_false(imp_is_id("vpc-a/b", "vpc-"));
	assert_false(imp_is_id("vpce-0abc", "vpc-"));
	assert_false(imp_is_id("eni-0abc\n", "eni-"));
	assert_true(imp_is_az("use1-az4"));
	assert_true(imp_is_az("us-west-2-lax-1a"));
	assert_false(imp_is_az(""));
	assert_false(imp_is_az("us east"));
	assert_false(imp_is_az("use1-az4; rm"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_vpce_names),
		cmocka_unit_test(test_s3_wildcards),
		cmocka_unit_test(test_private_names),
		cmocka_unit_test(test_rejected),
		cmocka_unit_test(test_iptype),
		cmocka_unit_test(test_orders),
		cmocka_unit_test(test_ids),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
