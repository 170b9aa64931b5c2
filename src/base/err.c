/* Error messages for lk_strerror(): our X-macro table plus the errno values
 * the agent and the CLI meet. Static strings only: no allocation, no locale,
 * so the agent may call it from any thread. */
#include "err.h"

#include <errno.h>

const char *
lk_strerror(int err)
{
    if (err < 0)
        err = -err;
    switch (err) {
#define LK_ERR_CASE(name, value, msg) \
    case value:                       \
        return msg;
        LK_ERRORS(LK_ERR_CASE)
#undef LK_ERR_CASE
    case 0: return "success";
    case EPERM: return "operation not permitted";
    case ENOENT: return "no such file or directory";
    case EINTR: return "interrupted";
    case EIO: return "input/output error";
    case EBADF: return "bad file descriptor";
    case ENOMEM: return "out of memory";
    case EACCES: return "permission denied";
    case EEXIST: return "file exists";
    case ENOTDIR: return "not a directory";
    case EISDIR: return "is a directory";
    case EINVAL: return "invalid argument";
    case EMFILE: return "too many open files";
    case EFBIG: return "file too large";
    case ENOSPC: return "no space left on device";
    case EROFS: return "read-only file system";
    case ELOOP: return "too many levels of symbolic links (refusing to follow a symlink)";
    case ENAMETOOLONG: return "file name too long";
    case ENOEXEC: return "exec format error";
    case ECHILD: return "no child process";
    case EDQUOT: return "disk quota exceeded";
    default: return "unknown error";
    }
}
