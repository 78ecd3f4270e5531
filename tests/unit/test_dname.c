/* test_dname.c — unit tests of wire/dname.c (names in uncompressed wire form). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the headers above it */
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "common/err.h"
#include "wire/dname.h"

/* Wire form of a presentation name, via the function under test; the
 * literal tests below pin dname_from_str itself. */
static size_t W(const char *s, uint8_t *out)
{
	int n = dname_from_str(s, out);
	assert_true(n > 0);
	return (size_t)n;
}

/* Name of `labels` labels of `each` octets of `c`, as wire. */
static size_t make_name(uint8_t *out, unsigned labels, unsigned each, uint8_t c)
{
	size_t o = 0;
	for (unsigned l = 0; l < labels; l++) {
		out[o++] = (uint8_t)each;
		memset(out + o, c, each);
		o += each;
	}
	out[o++] = 0;
	return o;
}

/* xorshift32: deterministic, bounded pseudo-random inputs. */
static uint32_t rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return *x;
}

/* A random well-formed name with arbitrary octets (0..255 in labels). */
static size_t random_name(uint32_t *x, uint8_t *out)
{
	size_t o = 0;
	unsigned labels = rnd(x) % 10;
	for (unsigned l = 0; l < labels; l++) {
		unsigned len = 1 + rnd(x) % DNAME_MAXLABEL;
		if (o + 1 + len + 1 > DNAME_MAXLEN)
			break;
		out[o++] = (uint8_t)len;
		for (unsigned i = 0; i < len; i++) {
			uint32_t r = rnd(x);
			/* Half the time letters, to exercise case folding. */
			static const char pick[] = "aZ.\\ *-_09@$;()\"\x7f\x80\xff";
			out[o++] = (r & 1) ? (uint8_t)pick[(r >> 1) % (sizeof(pick) - 1)]
					   : (uint8_t)(r >> 8);
		}
	}
	out[o++] = 0;
	return o;
}

static void test_len_labels(void **state)
{
	(void)state;
	uint8_t n[DNAME_MAXLEN];
	assert_int_equal(dname_len((const uint8_t *)""), 1);
	assert_int_equal(dname_labels((const uint8_t *)""), 0);
	assert_int_equal(dname_len((const uint8_t *)"\3www\7example\4test"), 18);
	assert_int_equal(dname_labels((const uint8_t *)"\3www\7example\4test"), 3);

	/* Maxima: 127 one-octet labels; 3 x 63 + 61. Both 255 octets. */
	assert_int_equal(make_name(n, 127, 1, 'a'), 255);
	assert_int_equal(dname_len(n), 255);
	assert_int_equal(dname_labels(n), 127);
	size_t o = make_name(n, 3, 63, 'b') - 1;
	n[o++] = 61;
	memset(n + o, 'c', 61);
	o += 61;
	n[o++] = 0;
	assert_int_equal(o, 255);
	assert_int_equal(dname_len(n), 255);
	assert_int_equal(dname_labels(n), 4);

	/* Exact-size heap copies: no read beyond the root label. */
	for (unsigned labels = 0; labels <= 127; labels++) {
		size_t len = make_name(n, labels, 1, 'x');
		uint8_t *h = malloc(len);
		assert_non_null(h);
		memcpy(h, n, len);
		assert_int_equal(dname_len(h), len);
		assert_int_equal(dname_labels(h), labels);
		free(h);
	}
}

static void test_lower(void **state)
{
	(void)state;
	uint8_t dst[DNAME_MAXLEN];
	static const uint8_t src[] = {5, 'A', 'z', 'Z', '@', '[', 4, 0xC1, '`', '{', 'Q', 0};
	static const uint8_t want[] = {5, 'a', 'z', 'z', '@', '[', 4, 0xC1, '`', '{', 'q', 0};
	memset(dst, 0xEE, sizeof(dst));
	assert_int_equal(dname_lower(dst, src), sizeof(src));
	assert_memory_equal(dst, want, sizeof(want));
	assert_int_equal(dst[sizeof(src)], 0xEE); /* nothing written past the name */

	assert_int_equal(dname_lower(dst, (const uint8_t *)""), 1);
	assert_int_equal(dst[0], 0);

	/* Every byte value as a label octet, then a 255-octet name. */
	uint8_t n[DNAME_MAXLEN];
	for (int c = 0; c < 256; c++) {
		n[0] = 1;
		n[1] = (uint8_t)c;
		n[2] = 0;
		dname_lower(dst, n);
		assert_int_equal(dst[1], (c >= 'A' && c <= 'Z') ? c + 32 : c);
	}
	size_t o = make_name(n, 3, 63, 'M') - 1;
	n[o++] = 61;
	memset(n + o, 'M', 61);
	o += 61;
	n[o] = 0;
	assert_int_equal(dname_lower(dst, n), 255);
	assert_int_equal(dst[1], 'm');
	assert_int_equal(dst[253], 'm');
	assert_int_equal(dst[254], 0);
	assert_int_equal(dst[64], 63);
}

static void test_equal(void **state)
{
	(void)state;
	assert_true(dname_equal((const uint8_t *)"", (const uint8_t *)""));
	assert_true(dname_equal((const uint8_t *)"\3WwW\4TeSt", (const uint8_t *)"\3www\4test"));
	assert_false(dname_equal((const uint8_t *)"\3www\4test", (const uint8_t *)"\3ww\4test"));
	assert_false(dname_equal((const uint8_t *)"\3www\4test", (const uint8_t *)"\3www\4tesu"));
	/* Prefix / suffix relations are not equality. */
	assert_false(dname_equal((const uint8_t *)"\1a\1b", (const uint8_t *)"\1a\1b\1c"));
	assert_false(dname_equal((const uint8_t *)"\1a\1b\1c", (const uint8_t *)"\1a\1b"));
	assert_false(dname_equal((const uint8_t *)"", (const uint8_t *)"\1a"));
	/* Same octets, different label boundaries. */
	assert_false(dname_equal((const uint8_t *)"\2ab\1c", (const uint8_t *)"\1a\2bc"));
	/* Only ASCII folds: 0xC1 and 0xE1 (Latin-1 Á/á) differ; '@' vs '`'
	 * and '[' vs '{' differ by 0x20 but are not letters. */
	assert_false(dname_equal((const uint8_t *)"\1\xC1", (const uint8_t *)"\1\xE1"));
	assert_false(dname_equal((const uint8_t *)"\1@", (const uint8_t *)"\1`"));
	assert_false(dname_equal((const uint8_t *)"\1[", (const uint8_t *)"\1{"));
	/* Binary zero inside a label. */
	assert_true(dname_equal((const uint8_t *)"\2a\0\1b", (const uint8_t *)"\2A\0\1B"));
	assert_false(dname_equal((const uint8_t *)"\2a\0\1b", (const uint8_t *)"\2a\1\1b"));

	/* 255-octet names, equal and differing in the last octet. */
	uint8_t a[DNAME_MAXLEN], b[DNAME_MAXLEN];
	make_name(a, 127, 1, 'q');
	make_name(b, 127, 1, 'Q');
	assert_true(dname_equal(a, b));
	b[253] = 'r';
	assert_false(dname_equal(a, b));
}

static void test_subdomain(void **state)
{
	(void)state;
	uint8_t name[DNAME_MAXLEN], parent[DNAME_MAXLEN];
	static const struct {
		const char *name, *parent;
		bool want;
	} cases[] = {
	    {"example.test", "example.test", true},
	    {"www.example.test", "example.test", true},
	    {"a.b.c.example.test", "example.test", true},
	    {"WWW.EXAMPLE.TEST", "example.test", true},
	    {"example.test", "www.example.test", false},
	    {"xexample.test", "example.test", false}, /* suffix, not a label boundary */
	    {"example.test", "test", true},
	    {"example.test", ".", true},
	    {".", ".", true},
	    {".", "test", false},
	    {"example.other", "example.test", false},
	    {"test.example", "example.test", false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		W(cases[i].name, name);
		W(cases[i].parent, parent);
		assert_int_equal(dname_is_subdomain(name, parent), cases[i].want);
	}
	/* Case-insensitive on the parent side too, and label-length aware. */
	assert_true(dname_is_subdomain((const uint8_t *)"\1a\7EXAMPLE\4test",
				       (const uint8_t *)"\7example\4TEST"));
	assert_false(dname_is_subdomain((const uint8_t *)"\2ab\1c", (const uint8_t *)"\1b\1c"));
	assert_false(dname_is_subdomain((const uint8_t *)"\1a\2bc", (const uint8_t *)"\1c"));
}

static void test_parent_skip(void **state)
{
	(void)state;
	const uint8_t *n = (const uint8_t *)"\3www\7example\4test";
	assert_ptr_equal(dname_parent(n), n + 4);
	assert_ptr_equal(dname_parent(n + 4), n + 12);
	assert_ptr_equal(dname_parent(n + 12), n + 17);
	assert_null(dname_parent(n + 17));
	assert_null(dname_parent((const uint8_t *)""));

	assert_ptr_equal(dname_skip(n, 0), n);
	assert_ptr_equal(dname_skip(n, 1), n + 4);
	assert_ptr_equal(dname_skip(n, 2), n + 12);
	assert_ptr_equal(dname_skip(n, 3), n + 17);
	/* Beyond the label count it stops at the root rather than run off. */
	assert_ptr_equal(dname_skip(n, 4), n + 17);
	assert_ptr_equal(dname_skip(n, 1000), n + 17);

	uint8_t big[DNAME_MAXLEN];
	make_name(big, 127, 1, 'z');
	for (unsigned k = 0; k <= 127; k++) {
		assert_ptr_equal(dname_skip(big, k), big + 2 * k);
		assert_int_equal(dname_labels(dname_skip(big, k)), 127 - k);
	}
}

static void test_wildcard(void **state)
{
	(void)state;
	assert_true(dname_is_wildcard((const uint8_t *)"\1*\7example\4test"));
	assert_true(dname_is_wildcard((const uint8_t *)"\1*"));
	assert_false(dname_is_wildcard((const uint8_t *)""));
	assert_false(dname_is_wildcard((const uint8_t *)"\2**\4test"));
	assert_false(dname_is_wildcard((const uint8_t *)"\2*a\4test"));
	assert_false(dname_is_wildcard((const uint8_t *)"\1a\1*"));
	assert_false(dname_is_wildcard((const uint8_t *)"\3www\4test"));
}

static void test_hash(void **state)
{
	(void)state;
	uint8_t a[DNAME_MAXLEN], b[DNAME_MAXLEN];
	W("www.example.test", a);
	memcpy(b, a, DNAME_MAXLEN);
	assert_int_equal(dname_hash(a), dname_hash(b));
	/* Callers hash lowercased names; after dname_lower, case is gone. */
	uint8_t mixed[DNAME_MAXLEN], lowered[DNAME_MAXLEN];
	memcpy(mixed, "\3WWW\7Example\4TEST", 18);
	dname_lower(lowered, mixed);
	assert_int_equal(dname_hash(lowered), dname_hash(a));
	/* dname_hash_len: the same hash, and dname_len's length, in one pass;
	 * the value is FNV-1a over the wire bytes (pinned: zones index by it). */
	size_t len = 0;
	assert_int_equal(dname_hash_len(a, &len), dname_hash(a));
	assert_int_equal(len, dname_len(a));
	assert_int_equal(len, 18);
	uint8_t root[1] = {0};
	assert_int_equal(dname_hash_len(root, &len), dname_hash(root));
	assert_int_equal(len, 1);
	uint32_t fnv = 2166136261u;
	for (size_t i = 0; i < 18; i++)
		fnv = (fnv ^ a[i]) * 16777619u;
	assert_int_equal(dname_hash(a), fnv ^ (fnv >> 16));
	/* Bytes after the root label do not matter. */
	memset(a + 18, 0x11, 10);
	memset(b + 18, 0x22, 10);
	assert_int_equal(dname_hash(a), dname_hash(b));
	/* Sanity on spread: 1000 distinct small names, few collisions. */
	uint32_t hs[1000];
	for (unsigned i = 0; i < 1000; i++) {
		uint8_t n[16] = {4,
				 (uint8_t)('a' + i % 26),
				 (uint8_t)('a' + (i / 26) % 26),
				 (uint8_t)('0' + i / 676),
				 'x',
				 0};
		hs[i] = dname_hash(n);
	}
	unsigned coll = 0;
	for (unsigned i = 0; i < 1000; i++)
		for (unsigned j = i + 1; j < 1000; j++)
			coll += hs[i] == hs[j];
	assert_true(coll <= 1);
}

static void test_to_str(void **state)
{
	(void)state;
	char buf[DNAME_STR_MAX];
	static const struct {
		const char *wire;
		size_t wlen;
		const char *str;
	} cases[] = {
	    {"", 1, "."},
	    {"\3www\7example\4test", 18, "www.example.test."},
	    {"\3WwW\4test", 10, "WwW.test."}, /* case preserved */
	    {"\3a.b\4test", 10, "a\\.b.test."},
	    {"\3a\\b", 5, "a\\\\b."},
	    {"\1*\1_", 5, "*._."},
	    {"\4a b\t", 6, "a\\032b\\009."},
	    {"\2\0\xff", 4, "\\000\\255."},
	    {"\1\x7f", 3, "\\127."},
	    {"\6\"();@$", 8, "\\\"\\(\\)\\;\\@\\$."},
	    {"\3-_~", 5, "-_~."},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int n = dname_to_str((const uint8_t *)cases[i].wire, buf, sizeof(buf));
		assert_int_equal(n, strlen(cases[i].str));
		assert_string_equal(buf, cases[i].str);
	}
}

/* The contract says -1 only if cap is too small: the exact size must work,
 * one byte less must fail, and nothing may be written past cap. */
static void test_to_str_capacity(void **state)
{
	(void)state;
	uint32_t x = 12345;
	char full[DNAME_STR_MAX];
	for (unsigned iter = 0; iter < 3000; iter++) {
		uint8_t name[DNAME_MAXLEN];
		if (iter == 0)
			name[0] = 0;
		else
			random_name(&x, name);
		int n = dname_to_str(name, full, sizeof(full));
		assert_true(n >= 1);
		assert_int_equal(strlen(full), (size_t)n);
		for (size_t cap = 0; cap <= (size_t)n + 1; cap++) {
			char *b = malloc(cap > 0 ? cap : 1);
			assert_non_null(b);
			int r = dname_to_str(name, b, cap);
			if (cap >= (size_t)n + 1) {
				assert_int_equal(r, n);
				assert_string_equal(b, full);
			} else {
				assert_int_equal(r, -1);
			}
			free(b);
		}
	}
}

/* Longest presentation forms fit DNAME_STR_MAX. */
static void test_to_str_max(void **state)
{
	(void)state;
	uint8_t n[DNAME_MAXLEN];
	char buf[DNAME_STR_MAX];
	/* 3 x 63 + 61 octets, every one escaped as \DDD. */
	size_t o = make_name(n, 3, 63, 0x01) - 1;
	n[o++] = 61;
	memset(n + o, 0xFF, 61);
	o += 61;
	n[o] = 0;
	int len = dname_to_str(n, buf, sizeof(buf));
	assert_int_equal(len, 250 * 4 + 4);
	/* 127 one-octet escaped labels. */
	make_name(n, 127, 1, '.');
	len = dname_to_str(n, buf, sizeof(buf));
	assert_int_equal(len, 127 * 3);
}

static void test_from_str(void **state)
{
	(void)state;
	uint8_t n[DNAME_MAXLEN];
	static const struct {
		const char *str;
		const char *wire;
		int len;
	} ok[] = {
	    {".", "", 1},
	    {"", "", 1},
	    {"a", "\1a", 3},
	    {"a.", "\1a", 3},
	    {"WWW.Example.TEST", "\3www\7example\4test", 18},
	    {"www.example.test.", "\3www\7example\4test", 18},
	    {"a\\.b.test", "\3a.b\4test", 10},
	    {"a\\\\b", "\3a\\b", 5},
	    {"\\065\\066", "\2ab", 4}, /* escapes are lowercased too */
	    {"\\000\\255", "\2\0\xff", 4},
	    {"\\046", "\1.", 3},
	    {"*.example", "\1*\7example", 11},
	    {"a\\ b", "\3a b", 5},
	    {"\\.", "\1.", 3},
	    {"\\1a",
	     "\2"
	     "1a",
	     4}, /* not three digits: a plain escaped '1' */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(n, 0xEE, sizeof(n));
		int r = dname_from_str(ok[i].str, n);
		assert_int_equal(r, ok[i].len);
		assert_memory_equal(n, ok[i].wire, (size_t)ok[i].len);
	}
	static const char *const bad[] = {
	    "..", "a..", "a..b", ".a", "..a", "a.\\", "\\", "\\256", "\\999", "a.b..",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(dname_from_str(bad[i], n), SOV_EPARSE);
}

static void test_from_str_limits(void **state)
{
	(void)state;
	uint8_t n[DNAME_MAXLEN];
	char s[1200];

	/* Label of 63 ok, 64 refused. */
	memset(s, 'a', 63);
	strcpy(s + 63, ".test");
	assert_int_equal(dname_from_str(s, n), 1 + 63 + 5 + 1);
	memset(s, 'a', 64);
	strcpy(s + 64, ".test");
	assert_int_equal(dname_from_str(s, n), SOV_EPARSE);
	/* Escaped octets count once each. */
	s[0] = 0;
	for (int i = 0; i < 63; i++)
		strcat(s, "\\255");
	assert_int_equal(dname_from_str(s, n), 65);
	strcat(s, "x");
	assert_int_equal(dname_from_str(s, n), SOV_EPARSE);

	/* 127 one-octet labels (255 octets) ok, with and without the final
	 * dot; 128 refused. */
	s[0] = 0;
	for (int i = 0; i < 127; i++)
		strcat(s, "a.");
	assert_int_equal(dname_from_str(s, n), 255);
	s[strlen(s) - 1] = 0;
	assert_int_equal(dname_from_str(s, n), 255);
	strcat(s, ".b");
	assert_int_equal(dname_from_str(s, n), SOV_EPARSE);

	/* Every total length around the limit with a variable last label:
	 * 3 x 63-octet labels (192 octets) + last label of k octets:
	 * wire length 192 + k + 2, valid iff <= 255 (k <= 61). */
	for (int k = 1; k <= 63; k++) {
		s[0] = 0;
		for (int l = 0; l < 3; l++) {
			size_t o = strlen(s);
			memset(s + o, 'b', 63);
			s[o + 63] = '.';
			s[o + 64] = 0;
		}
		size_t o = strlen(s);
		memset(s + o, 'c', (size_t)k);
		s[o + (size_t)k] = 0;
		int want = 192 + k + 2 <= 255 ? 192 + k + 2 : SOV_EPARSE;
		assert_int_equal(dname_from_str(s, n), want);
		strcat(s, ".");
		assert_int_equal(dname_from_str(s, n), want);
	}
}

/* from_str(to_str(x)) == lower(x), for arbitrary octets. */
static void test_round_trip(void **state)
{
	(void)state;
	uint32_t x = 777;
	for (unsigned iter = 0; iter < 20000; iter++) {
		uint8_t name[DNAME_MAXLEN], back[DNAME_MAXLEN], low[DNAME_MAXLEN];
		char str[DNAME_STR_MAX];
		size_t len = random_name(&x, name);
		assert_int_equal(dname_len(name), len);
		assert_true(dname_to_str(name, str, sizeof(str)) > 0);
		assert_int_equal(dname_from_str(str, back), (int)len);
		assert_int_equal(dname_lower(low, name), len);
		assert_memory_equal(back, low, len);
		assert_true(dname_equal(back, name));
		assert_int_equal(dname_hash(back), dname_hash(low));
		assert_true(dname_is_subdomain(name, dname_skip(back, dname_labels(back) / 2)));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_len_labels),
	    cmocka_unit_test(test_lower),
	    cmocka_unit_test(test_equal),
	    cmocka_unit_test(test_subdomain),
	    cmocka_unit_test(test_parent_skip),
	    cmocka_unit_test(test_wildcard),
	    cmocka_unit_test(test_hash),
	    cmocka_unit_test(test_to_str),
	    cmocka_unit_test(test_to_str_capacity),
	    cmocka_unit_test(test_to_str_max),
	    cmocka_unit_test(test_from_str),
	    cmocka_unit_test(test_from_str_limits),
	    cmocka_unit_test(test_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
