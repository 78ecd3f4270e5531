#include "common/err.h"

const char *err_str(int code)
{
	switch (code) {
	case SOV_OK:
		return "success";
	case SOV_ENOMEM:
		return "out of memory";
	case SOV_EINVAL:
		return "invalid argument";
	case SOV_EIO:
		return "input/output error";
	case SOV_EPARSE:
		return "syntax error";
	case SOV_ESEMANTIC:
		return "semantic error";
	case SOV_ENOENT:
		return "not found";
	case SOV_EEXIST:
		return "already exists";
	case SOV_ESPACE:
		return "no space left in buffer";
	case SOV_EMALF:
		return "malformed data";
	case SOV_ENOTSUP:
		return "not supported";
	case SOV_ESYS:
		return "system call failed";
	default:
		return "unknown error";
	}
}
