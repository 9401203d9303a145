/*
 * mail.c: PLACEHOLDER until the mail module lands (issue 4): the public
 * mail API answers DM_EINVAL so that everything links meanwhile.
 */
#include "core.h"

DM_API dm_status dm_mail_record(const char *msg, size_t len, const char *source, dm_record *rec,
                                dm_error *err)
{
    (void)msg, (void)len, (void)source, (void)rec;
    return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "mail support is not built yet");
}

DM_API const char *dm_mail_header_name(dm_mail_header h)
{
    (void)h;
    return "";
}

DM_API size_t dm_mail_header_value(const dm_result *res, dm_mail_header h, char *buf, size_t cap)
{
    (void)res, (void)h;
    if (cap)
        buf[0] = '\0';
    return 0;
}

DM_API int dm_mail_is_own_header(const char *name, size_t len)
{
    (void)name, (void)len;
    return 0;
}

DM_API dm_status dm_mail_rewrite(const char *msg, size_t len, const dm_result *res,
                                 dm_write_fn write, void *ud, dm_error *err)
{
    (void)msg, (void)len, (void)res, (void)write, (void)ud;
    return dm_error_set(err, DM_EINVAL, NULL, 0, 0, "mail support is not built yet");
}
