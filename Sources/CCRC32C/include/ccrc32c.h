#ifndef LOGPIPE_CCRC32C_H
#define LOGPIPE_CCRC32C_H

#include <stddef.h>
#include <stdint.h>

/// Whether this CPU has a CRC-32C instruction (x86-64 SSE4.2, AArch64 CRC32), checked at run time.
int logpipe_crc32c_hardware_available(void);

/// Extends `crc` (the CRC-32C of earlier bytes, 0 for none) with `count` bytes at `bytes`,
/// using the CPU's CRC-32C instruction; call only when `logpipe_crc32c_hardware_available()`.
uint32_t logpipe_crc32c_hardware(uint32_t crc, const void *bytes, size_t count);

#endif
