/* SPDX-License-Identifier: Apache-2.0 */
/* Counts forks so per-process random state (nonce batches, data key ids) is never shared. */
#include <pthread.h>

#include "pgkms/envelope.h"

static volatile unsigned fork_gen;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int registered; /* set once the handler is in: later calls skip pthread_once */

static void on_fork_child(void)
{
    fork_gen++;
}

static void register_handler(void)
{
    (void)pthread_atfork(NULL, NULL, on_fork_child);
    __atomic_store_n(&registered, 1, __ATOMIC_RELEASE);
}

unsigned pgkms_fork_generation(void)
{
    if (!__atomic_load_n(&registered, __ATOMIC_ACQUIRE))
        (void)pthread_once(&once, register_handler);
    return fork_gen;
}
