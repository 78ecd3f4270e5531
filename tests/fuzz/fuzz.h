/* fuzz.h — what every fuzz target shares: libFuzzer's entry point and
 * CHECK(), which aborts (a finding) when a property the target asserts fails. */
#ifndef SOV_TESTS_FUZZ_H
#define SOV_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
