/* crossdev — reproducible deep-learning kernels on any OpenCL device.
 * The umbrella header: include this. */
#ifndef CROSSDEV_CROSSDEV_H
#define CROSSDEV_CROSSDEV_H

#include "crossdev/version.h"
#include "crossdev/export.h"
#include "crossdev/status.h"
#include "crossdev/error.h"
#include "crossdev/io.h"
#include "crossdev/device.h"
#include "crossdev/context.h"
#include "crossdev/tensor.h"
#include "crossdev/ops.h"
#include "crossdev/hostmath.h"
#include "crossdev/model.h"
#include "crossdev/train.h"
#include "crossdev/trace.h"
#include "crossdev/compare.h"
#include "crossdev/report.h"

#ifdef __cplusplus
extern "C" {
#endif
/* The library's version at run time, "MAJOR.MINOR.PATCH". */
XD_API const char *xd_version_string(void);
XD_API int xd_version_number(void); /* MAJOR*10000 + MINOR*100 + PATCH */
#ifdef __cplusplus
}
#endif
#endif
