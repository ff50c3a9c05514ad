// Exposes the system libzstd (Debian: libzstd-dev) to Swift for LogpipeParquet's ZSTD codec.
#include <zstd.h>
