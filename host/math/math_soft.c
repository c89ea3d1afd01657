/* The software division/sqrt path (XD_DIV_MODE 2) built for the host, so
 * tests can check it against IEEE division on many inputs. */
#define XD_DIV_MODE 2
#include "xd_math.h"

#include "crossdev/hostmath.h"

float xd_host_div_soft(float a, float b) { return xd_div(a, b); }
float xd_host_sqrt_soft(float a) { return xd_sqrt(a); }
