/* ident.c — identifiers (contract in ident.h). */
#include "common/ident.h"

bool ident_valid(const char *s)
{
	size_t n = 0;
	for (const char *p = s; *p; p++, n++) {
		char c = *p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return false;
	}
	return n >= 1 && n <= IDENT_MAX;
}
