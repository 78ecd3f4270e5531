/* err.h — the project's one error vocabulary.
 *
 * Every function that can fail returns an int: 0 (SOV_OK) on success or one
 * of the negative codes below. err_str() turns a code into a short English
 * phrase suitable for logs and API error messages.
 */
#ifndef SOV_COMMON_ERR_H
#define SOV_COMMON_ERR_H

enum sov_err {
	SOV_OK = 0,
	SOV_ENOMEM = -1,    /* allocation failed */
	SOV_EINVAL = -2,    /* invalid argument or value */
	SOV_EIO = -3,	    /* read/write/open failed (see errno in the log line) */
	SOV_EPARSE = -4,    /* syntax error in a file or message */
	SOV_ESEMANTIC = -5, /* well-formed but violates a rule (zone, config) */
	SOV_ENOENT = -6,    /* no such item */
	SOV_EEXIST = -7,    /* item already exists */
	SOV_ESPACE = -8,    /* output buffer too small */
	SOV_EMALF = -9,	    /* malformed wire data */
	SOV_ENOTSUP = -10,  /* valid but not supported */
	SOV_ESYS = -11,	    /* system call failed */
};

/** Returns a static, never-NULL description of an error code. */
const char *err_str(int code);

#endif
