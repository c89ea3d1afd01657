/* crossdev — reproducible deep-learning kernels on any OpenCL device.
 * The umbrella header: include this (the version functions are in
 * version.h, the rest in one header per stage; host/README.md). */
#ifndef CROSSDEV_CROSSDEV_H
#define CROSSDEV_CROSSDEV_H

#include "crossdev/version.h"
#include "crossdev/export.h"
#include "crossdev/status.h"
#include "crossdev/error.h"
#include "crossdev/types.h"
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

#endif
