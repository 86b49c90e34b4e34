/* seal.h -- authenticated encryption of the secrets a task carries.
 *
 * A scheduler and its workers that share a 32-byte key (HAUL_KEY_FILE) seal
 * each task's connection state, so that whoever reads Redis sees no
 * credential and whoever writes to Redis cannot change what a sealed task
 * says (docs/protocol.md, "Sealed connection state"). The cipher is
 * AES-256-GCM from OpenSSL, with a fresh random 96-bit nonce per message:
 * one key should seal well under 2^32 messages (at one task per millisecond
 * that is 49 days of continuous submission), so rotate it with the workers'
 * configuration now and then.
 *
 * Nothing here logs, and no key byte is ever written into an error buffer. */
#ifndef HAUL_SEAL_H
#define HAUL_SEAL_H

#include <stddef.h>

#include "buf.h"

#define HAUL_SEAL_KEY_LEN   32  /* AES-256 */
#define HAUL_SEAL_NONCE_LEN 12
#define HAUL_SEAL_TAG_LEN   16
#define HAUL_SEAL_OVERHEAD  (HAUL_SEAL_NONCE_LEN + HAUL_SEAL_TAG_LEN)

/* Load a key file: exactly 32 raw bytes, or 64 hex digits (either case) with
 * optional trailing whitespace or newline. Anything else is refused (-1) with
 * a sentence naming the file and what is wrong with it. 0 on success; 1 on
 * success with a warning in err when the file's mode lets group or others
 * touch it (mode & 077), which the caller should log. The key bytes never
 * appear in err. */
int haul_seal_key_load(const char *path, unsigned char key[HAUL_SEAL_KEY_LEN], char *err);

/* A new random key (OpenSSL RAND_bytes) as 64 lowercase hex digits and a NUL,
 * the form haul_seal_key_load() reads. 0, or -1 if the RNG fails. */
int haul_seal_keygen(char hex[2 * HAUL_SEAL_KEY_LEN + 1]);

/* AES-256-GCM. Appends nonce (12 random bytes) || ciphertext || tag (16) to
 * out: ptlen + HAUL_SEAL_OVERHEAD bytes. aad is authenticated, not encrypted,
 * and not stored: the opener must present the same bytes. aad and pt may be
 * NULL when their length is 0. -1 with a sentence (and out as it was) if
 * OpenSSL fails or a length is over INT_MAX. */
int haul_seal(const unsigned char key[HAUL_SEAL_KEY_LEN], const void *aad, size_t aadlen,
              const void *pt, size_t ptlen, haul_buf *out, char *err);

/* The reverse: appends the ctlen - HAUL_SEAL_OVERHEAD plaintext bytes to out.
 * -1 with "authentication failed..." in err, and out as it was, when ct is too
 * short to hold a nonce and a tag, or the key, the aad or any byte of ct is
 * not what haul_seal() used. Plaintext is appended only once authenticated. */
int haul_unseal(const unsigned char key[HAUL_SEAL_KEY_LEN], const void *aad, size_t aadlen,
                const void *ct, size_t ctlen, haul_buf *out, char *err);

/* Make this process keep no core dump (RLIMIT_CORE 0) and not be dumpable
 * (PR_SET_DUMPABLE 0: no core, no ptrace attach by other processes of the
 * same user, /proc/PID/mem closed): a process that holds credentials or the
 * seal key must not leave them in a file after a crash. 0, or -1 with a
 * sentence (the caller goes on: it is a defence in depth). */
int haul_no_core_dumps(char *err);

/* Zero b's memory, then free it (back to HAUL_BUF_INIT): for buffers that held
 * a secret. NULL ok. */
void haul_seal_buf_wipe(haul_buf *b);

#endif
