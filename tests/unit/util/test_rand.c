/*
 * Unit tests for the CSPRNG wrapper: output varies, every byte value and
 * bit shows up, uniform stays in range and covers it, large and small
 * requests both work, and a forked child does not replay the parent's
 * buffered bytes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vpcdns/util.h"

static void test_invalid_args(void **state)
{
	uint8_t b[4] = { 1, 2, 3, 4 };

	(void)state;
	vd_rand_bytes(NULL, 10);
	vd_rand_bytes(b, 0);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[3], 4);
	assert_int_equal(vd_rand_uniform(0), 0);
	assert_int_equal(vd_rand_uniform(1), 0);
}

static void test_u16_varies(void **state)
{
	uint16_t first = vd_rand_u16();
	unsigned same = 0, bits_or = 0, bits_and = 0xffff;

	(void)state;
	for (int i = 0; i < 1000; i++) {
		uint16_t v = vd_rand_u16();

		same += v == first;
		bits_or |= v;
		bits_and &= v;
	}
	assert_true(same < 10);
	assert_int_equal(bits_or, 0xffff);
	assert_int_equal(bits_and, 0);
}

static void test_u32_varies(void **state)
{
	uint32_t a = vd_rand_u32(), b = vd_rand_u32(), c = vd_rand_u32();

	(void)state;
	assert_false(a == b && b == c);
}

static void test_bytes_sizes(void **state)
{
	static uint8_t big[4096];
	static const uint8_t zero[4096];
	unsigned seen[256] = { 0 };
	uint8_t small[7];

	(void)state;
	vd_rand_bytes(big, sizeof(big));
	assert_memory_not_equal(big, zero, sizeof(big));
	for (size_t i = 0; i < sizeof(big); i++)
		seen[big[i]]++;
	/* 4096 draws over 256 values: each expected 16 times; none missing
	 * would fail with probability ~256 * e^-16. */
	for (int v = 0; v < 256; v++)
		assert_true(seen[v] > 0);
	/* Many small requests cross the internal refill boundary. */
	for (int i = 0; i < 300; i++) {
		memset(small, 0, sizeof(small));
		vd_rand_bytes(small, sizeof(small));
		assert_memory_not_equal(small, zero, sizeof(small));
	}
}

static void test_uniform(void **state)
{
	unsigned hist[10] = { 0 };

	(void)state;
	for (int i = 0; i < 10000; i++) {
		uint32_t v = vd_rand_uniform(10);

		assert_true(v < 10);
		hist[v]++;
	}
	/* Expected 1000 each; 700..1300 is about 10 standard deviations. */
	for (int i = 0; i < 10; i++) {
		assert_true(hist[i] > 700);
		assert_true(hist[i] < 1300);
	}
	for (int i = 0; i < 1000; i++)
		assert_true(vd_rand_uniform(3000000001u) < 3000000001u);
	for (int i = 0; i < 100; i++)
		assert_true(vd_rand_uniform(2) < 2);
}

static void test_fork_no_replay(void **state)
{
	uint8_t parent[16], child[16];
	int fds[2];
	pid_t pid;
	int status;

	(void)state;
	/* Make sure the buffer holds unread bytes before forking. */
	vd_rand_u16();
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		vd_rand_bytes(child, sizeof(child));
		_exit(write(fds[1], child, sizeof(child)) == sizeof(child) ? 0 : 1);
	}
	vd_rand_bytes(parent, sizeof(parent));
	assert_int_equal(read(fds[0], child, sizeof(child)), sizeof(child));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fds[0]);
	close(fds[1]);
	assert_memory_not_equal(parent, child, sizeof(parent));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_u16_varies),
		cmocka_unit_test(test_u32_varies),
		cmocka_unit_test(test_bytes_sizes),
		cmocka_unit_test(test_uniform),
		cmocka_unit_test(test_fork_no_replay),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
