#include <grove/err.h>

static const struct {
    const char *name;
    const char *text;
} s_errors[GROVE_ERR_COUNT_] = {
    [GROVE_OK] = {"GROVE_OK", "success"},
    [GROVE_EINVAL] = {"GROVE_EINVAL", "invalid argument"},
    [GROVE_EBADARG] = {"GROVE_EBADARG", "term argument has the wrong shape"},
    [GROVE_ENOMEM] = {"GROVE_ENOMEM", "memory limit reached"},
    [GROVE_EDECODE] = {"GROVE_EDECODE", "bytes are not a valid term"},
    [GROVE_ESYNTAX] = {"GROVE_ESYNTAX", "text is not a valid term"},
    [GROVE_ERANGE] = {"GROVE_ERANGE", "value out of range"},
    [GROVE_ENOPROC] = {"GROVE_ENOPROC", "no such process"},
    [GROVE_ETIMEDOUT] = {"GROVE_ETIMEDOUT", "timed out"},
    [GROVE_ECLOSED] = {"GROVE_ECLOSED", "closed"},
    [GROVE_EPROTO] = {"GROVE_EPROTO", "protocol error"},
    [GROVE_EEXIST] = {"GROVE_EEXIST", "name already taken"},
    [GROVE_ENOTFOUND] = {"GROVE_ENOTFOUND", "not found"},
    [GROVE_EWOULDBLOCK] = {"GROVE_EWOULDBLOCK", "blocking call on a scheduler thread"},
    [GROVE_E2BIG] = {"GROVE_E2BIG", "message too large"},
    [GROVE_EAGAIN] = {"GROVE_EAGAIN", "resource busy, try again"},
    [GROVE_ENOCONN] = {"GROVE_ENOCONN", "node not connected"},
    [GROVE_EPERM] = {"GROVE_EPERM", "not permitted"},
    [GROVE_EIO] = {"GROVE_EIO", "input/output error"},
};

const char *grove_strerror(grove_err err)
{
    if ((unsigned)err >= GROVE_ERR_COUNT_)
        return "unknown error";
    return s_errors[err].text;
}

const char *grove_errname(grove_err err)
{
    if ((unsigned)err >= GROVE_ERR_COUNT_)
        return "GROVE_E?";
    return s_errors[err].name;
}
