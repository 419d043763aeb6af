/* SPDX-License-Identifier: Apache-2.0 */
/* Counts forks so per-process random state (nonce batches, data key ids) is never shared. */
#include <pthread.h>

#include "pgkms/envelope.h"

static volatile unsigned fork_gen;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void on_fork_child(void)
{
    fork_gen++;
}

static void register_handler(void)
{
    (void)pthread_atfork(NULL, NULL, on_fork_child);
}

unsigned pgkms_fork_generation(void)
{
    (void)pthread_once(&once, register_handler);
    return fork_gen;
}
