/* Status names and messages, generated from XD_STATUS_MAP. */
#include "crossdev/status.h"

const char *xd_status_name(xd_status s)
{
    switch (s) {
#define XD_STATUS_NAME_(name, msg) \
    case XD_##name: return "XD_" #name;
        XD_STATUS_MAP(XD_STATUS_NAME_)
#undef XD_STATUS_NAME_
    default: return "XD_UNKNOWN_STATUS";
    }
}

const char *xd_status_string(xd_status s)
{
    switch (s) {
#define XD_STATUS_STRING_(name, msg) \
    case XD_##name: return msg;
        XD_STATUS_MAP(XD_STATUS_STRING_)
#undef XD_STATUS_STRING_
    default: return "unknown status";
    }
}
