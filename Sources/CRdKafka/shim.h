// Exposes librdkafka's C API (Debian: librdkafka-dev) to LogpipeKafka, only when
// the package is built with `--traits Kafka`. Headers may be older than the
// library loaded at run time (see docs/kafka.md): only calls present in 2.0.2 are used.
#include <librdkafka/rdkafka.h>
