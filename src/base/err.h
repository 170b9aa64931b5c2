/* Error codes shared by the agent and the CLI.
 *
 * Functions return 0 on success and a negative value on failure: -errno for
 * system errors, -LK_E... for ours. lk_strerror() names both without
 * allocating. */
#ifndef LK_ERR_H
#define LK_ERR_H

/* X(name, value, message): one table yields the enum and the messages. */
#define LK_ERRORS(X)                                                          \
    X(LK_EFORMAT, 1000, "not a leakscope recording")                          \
    X(LK_EVERSION, 1001, "recording version not supported")                  \
    X(LK_ECRC, 1002, "checksum mismatch")                                     \
    X(LK_ETRUNC, 1003, "record truncated")                                    \
    X(LK_ECORRUPT, 1004, "malformed record")                                  \
    X(LK_ENOSPACE, 1005, "buffer too small")                                  \
    X(LK_ELIMIT, 1006, "value exceeds a limit of the format")                 \
    X(LK_EUSAGE, 1007, "bad usage")

enum lk_err {
#define LK_ERR_ENUM(name, value, msg) name = value,
    LK_ERRORS(LK_ERR_ENUM)
#undef LK_ERR_ENUM
};

/* Message for a negative return value (-errno or -LK_E...). Never NULL;
 * returns a static string, so it is safe in the agent. */
const char *lk_strerror(int err);

#endif
