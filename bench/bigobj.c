/* bigobj.c -- one large object of workload 4: SIZE bytes of pseudo-random data, and its MD5.
 *
 *   build/bench/bigobj FILE SIZE SEED
 *
 * writes FILE (created or truncated) with the AES-128-CTR keystream of a key made from SEED
 * (zero IV), and prints the data's MD5 in hex on stdout.  The same SIZE and SEED give the same
 * bytes.  AES-NI makes the data at several GB/s, so the MD5 (about 0.6 GB/s on one core) is
 * what takes the time: run one per core.  Why not `openssl enc ... </dev/zero | head -c`: the
 * pipe and head's small reads cost 7 s of system time per GiB here, against about 2 s for
 * this.  (A benchmark tool, not part of haul: make bench-tools builds it.) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#define CHUNK (8u << 20)

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bigobj FILE SIZE SEED\n");
        return 2;
    }
    char *end;
    errno = 0;
    unsigned long long size = strtoull(argv[2], &end, 10);
    if (errno || *end || end == argv[2]) {
        fprintf(stderr, "bigobj: SIZE '%s' is not a number of bytes\n", argv[2]);
        return 2;
    }
    unsigned char key[16] = {0}, iv[16] = {0}, md[EVP_MAX_MD_SIZE];
    snprintf((char *)key, sizeof key, "haul%.11s", argv[3]);

    int rc = 1, fd = -1;
    unsigned char *zero = calloc(1, CHUNK), *buf = malloc(CHUNK + 16);
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    if (!zero || !buf || !c || !m) {
        fprintf(stderr, "bigobj: out of memory\n");
        goto out;
    }
    fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        fprintf(stderr, "bigobj: %s: %s\n", argv[1], strerror(errno));
        goto out;
    }
    if (!EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, key, iv) ||
        !EVP_DigestInit_ex(m, EVP_md5(), NULL)) {
        fprintf(stderr, "bigobj: OpenSSL refused AES-128-CTR or MD5\n");
        goto out;
    }
    for (unsigned long long left = size; left > 0;) {
        int n = left < CHUNK ? (int)left : (int)CHUNK, outl = 0;
        if (!EVP_EncryptUpdate(c, buf, &outl, zero, n) || outl != n ||
            !EVP_DigestUpdate(m, buf, (size_t)n)) {
            fprintf(stderr, "bigobj: OpenSSL failed\n");
            goto out;
        }
        for (int off = 0; off < n;) {
            ssize_t w = write(fd, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                fprintf(stderr, "bigobj: write %s: %s\n", argv[1], strerror(errno));
                goto out;
            }
            off += (int)w;
        }
        left -= (unsigned long long)n;
    }
    unsigned int mdlen = 0;
    EVP_DigestFinal_ex(m, md, &mdlen);
    if (close(fd) != 0) {
        fd = -1;
        fprintf(stderr, "bigobj: close %s: %s\n", argv[1], strerror(errno));
        goto out;
    }
    fd = -1;
    for (unsigned int i = 0; i < mdlen; i++)
        printf("%02x", md[i]);
    printf("\n");
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(m);
    EVP_CIPHER_CTX_free(c);
    free(buf);
    free(zero);
    return rc;
}
