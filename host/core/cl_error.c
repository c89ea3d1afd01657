/* The names of OpenCL error codes, for messages. */
#include "core.h"

const char *xd_cl_error_name(cl_int code)
{
    switch (code) {
#define XD_CL_ERR_(c) \
    case c: return #c;
        XD_CL_ERR_(CL_SUCCESS)
        XD_CL_ERR_(CL_DEVICE_NOT_FOUND)
        XD_CL_ERR_(CL_DEVICE_NOT_AVAILABLE) XD_CL_ERR_(CL_COMPILER_NOT_AVAILABLE) XD_CL_ERR_(
            CL_MEM_OBJECT_ALLOCATION_FAILURE) XD_CL_ERR_(CL_OUT_OF_RESOURCES) XD_CL_ERR_(CL_OUT_OF_HOST_MEMORY)
            XD_CL_ERR_(CL_PROFILING_INFO_NOT_AVAILABLE) XD_CL_ERR_(CL_BUILD_PROGRAM_FAILURE)
                XD_CL_ERR_(CL_INVALID_VALUE) XD_CL_ERR_(CL_INVALID_DEVICE_TYPE) XD_CL_ERR_(CL_INVALID_PLATFORM)
                    XD_CL_ERR_(CL_INVALID_DEVICE) XD_CL_ERR_(CL_INVALID_CONTEXT) XD_CL_ERR_(CL_INVALID_QUEUE_PROPERTIES)
                        XD_CL_ERR_(CL_INVALID_COMMAND_QUEUE) XD_CL_ERR_(CL_INVALID_MEM_OBJECT)
                            XD_CL_ERR_(CL_INVALID_BUILD_OPTIONS) XD_CL_ERR_(CL_INVALID_PROGRAM)
                                XD_CL_ERR_(CL_INVALID_PROGRAM_EXECUTABLE) XD_CL_ERR_(CL_INVALID_KERNEL_NAME) XD_CL_ERR_(
                                    CL_INVALID_KERNEL) XD_CL_ERR_(CL_INVALID_ARG_INDEX) XD_CL_ERR_(CL_INVALID_ARG_VALUE)
                                    XD_CL_ERR_(CL_INVALID_ARG_SIZE) XD_CL_ERR_(CL_INVALID_KERNEL_ARGS)
                                        XD_CL_ERR_(CL_INVALID_WORK_DIMENSION) XD_CL_ERR_(CL_INVALID_WORK_GROUP_SIZE)
                                            XD_CL_ERR_(CL_INVALID_WORK_ITEM_SIZE) XD_CL_ERR_(CL_INVALID_GLOBAL_OFFSET)
                                                XD_CL_ERR_(CL_INVALID_EVENT_WAIT_LIST) XD_CL_ERR_(CL_INVALID_OPERATION)
                                                    XD_CL_ERR_(CL_INVALID_BUFFER_SIZE)
                                                        XD_CL_ERR_(CL_INVALID_GLOBAL_WORK_SIZE)
                                                            XD_CL_ERR_(CL_PLATFORM_NOT_FOUND_KHR)
#undef XD_CL_ERR_
                                                                default : return "CL_UNKNOWN_ERROR";
    }
}
