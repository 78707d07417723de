// The functions are static inline in include/flint_float_mode.h; SwiftPM needs one source file.
#include "flint_float_mode.h"
