// Debian's libopenblas-dev installs cblas.h under the multiarch include folder.
#include <cblas.h>
