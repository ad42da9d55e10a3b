// half.h - IEEE 754 binary16 (float16) conversion: what CD-CCA's devices send their encoders'
// tokens as (the paper's models run in half precision). Round to nearest, ties to even; overflow
// to infinity; subnormals kept; NaN stays NaN (quiet). Local, pure.
#pragma once
#include <stdint.h>

uint16_t half_from_float(float f);
float half_to_float(uint16_t h);
