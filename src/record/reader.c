/* Record framing for readers. Validates before trusting: a length is checked
 * against what is left and LK_MAX_RECORD before anything is read, and each
 * payload's CRC before it is handed out. A frame that runs past the end of
 * the file is a torn write and ends the walk quietly; a bad checksum on a
 * record that is followed by more data is corruption. */
#include "reader.h"

#include <string.h>

#include "../base/crc32.h"
#include "../base/err.h"
#include "../base/fmt.h"

static uint64_t
get_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static int
fail_at(struct lk_reader *r, uint64_t index, uint64_t off, int err, const char *what)
{
    struct lk_fmt f;
    lk_fmt_init(&f, r->errmsg, sizeof r->errmsg);
    lk_fmt_str(&f, r->name);
    lk_fmt_str(&f, ": record ");
    lk_fmt_u64(&f, index);
    lk_fmt_str(&f, " at offset ");
    lk_fmt_hex(&f, off);
    lk_fmt_str(&f, ": ");
    lk_fmt_str(&f, what ? what : lk_strerror(err));
    return err;
}

int
lk_reader_fail(struct lk_reader *r, const struct lk_record *rec, int err, const char *what)
{
    return fail_at(r, rec->index, rec->offset, err, what);
}

int
lk_reader_open(struct lk_reader *r, const char *name, const uint8_t *data, size_t len)
{
    struct lk_fmt f;
    memset(r, 0, sizeof *r);
    r->name = name;
    r->data = data;
    r->len = len;
    lk_fmt_init(&f, r->errmsg, sizeof r->errmsg);
    lk_fmt_str(&f, name);
    if (len == 0) {
        lk_fmt_str(&f, ": empty file, not a leakscope recording");
        return -LK_EFORMAT;
    }
    if (len < LK_MAGIC_LEN || memcmp(data, LK_MAGIC, LK_MAGIC_LEN) != 0) {
        lk_fmt_str(&f, ": not a leakscope recording (no LKSCOPE magic at offset 0)");
        return -LK_EFORMAT;
    }
    if (len < LK_FILE_HEADER_LEN) {
        lk_fmt_str(&f, ": file header truncated (");
        lk_fmt_u64(&f, len);
        lk_fmt_str(&f, " of 16 bytes)");
        return -LK_ETRUNC;
    }
    r->major = (unsigned)get_le(data + 8, 2);
    r->minor = (unsigned)get_le(data + 10, 2);
    if (r->major != LK_VERSION_MAJOR) {
        lk_fmt_str(&f, ": recording format version ");
        lk_fmt_u64(&f, r->major);
        lk_fmt_str(&f, ".");
        lk_fmt_u64(&f, r->minor);
        lk_fmt_str(&f, " is not supported (this leakscope reads version ");
        lk_fmt_u64(&f, LK_VERSION_MAJOR);
        lk_fmt_str(&f, ".x)");
        if (r->major == 0x100)
            lk_fmt_str(&f, "; the file looks byte-swapped (written big-endian)");
        return -LK_EVERSION;
    }
    r->off = LK_FILE_HEADER_LEN;
    r->errmsg[0] = '\0';
    return 0;
}

int
lk_reader_next(struct lk_reader *r, struct lk_record *rec)
{
    size_t left = r->len - r->off;
    if (left == 0)
        return 0;
    if (left < LK_FRAME_HEAD + LK_FRAME_TAIL) {
        r->torn = 1;
        r->torn_offset = r->off;
        fail_at(r, r->index, r->off, -LK_ETRUNC, "last record truncated (ignored)");
        return 0;
    }
    const uint8_t *p = r->data + r->off;
    uint64_t plen = get_le(p + 1, 4);
    if (p[0] == 0 || plen > LK_MAX_RECORD)
        return fail_at(r, r->index, r->off, -LK_ECORRUPT,
                       p[0] == 0 ? "invalid record type 0" : "record length exceeds the limit");
    if (plen > left - LK_FRAME_HEAD - LK_FRAME_TAIL) {
        r->torn = 1;
        r->torn_offset = r->off;
        fail_at(r, r->index, r->off, -LK_ETRUNC, "last record truncated (ignored)");
        return 0;
    }
    uint32_t want = (uint32_t)get_le(p + LK_FRAME_HEAD + plen, 4);
    if (lk_crc32(0, p, LK_FRAME_HEAD + (size_t)plen) != want) {
        if (r->off + LK_FRAME_HEAD + plen + LK_FRAME_TAIL == r->len) {
            /* A torn write can leave a frame whose tail is present but stale. */
            r->torn = 1;
            r->torn_offset = r->off;
            fail_at(r, r->index, r->off, -LK_ETRUNC,
                    "last record incomplete (checksum mismatch, ignored)");
            return 0;
        }
        return fail_at(r, r->index, r->off, -LK_ECRC, "checksum mismatch");
    }
    rec->type = p[0];
    rec->payload = p + LK_FRAME_HEAD;
    rec->len = (size_t)plen;
    rec->offset = r->off;
    rec->index = r->index++;
    r->off += LK_FRAME_HEAD + (size_t)plen + LK_FRAME_TAIL;
    return 1;
}
