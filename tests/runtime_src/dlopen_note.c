/*
 * A program that says, in a .note.dlopen note, which library it dlopen()s, and then does: the
 * fixture of tests/dlopen_note.rs. It also resolves a host name through NSS, the other kind of
 * library a program loads after start without naming it in DT_NEEDED.
 *
 *   gcc -o prog dlopen_note.c                          # the default note (libz, with alternatives)
 *   gcc -DNOTE_SONAME='"libfoo.so.1"' -o prog dlopen_note.c
 *   gcc -DNOTE_JSON='"not json"' -o prog dlopen_note.c  # a hostile note
 *   musl-gcc ... likewise
 *   ./prog [HOSTNAME]   # prints "loaded NAME" (or dlerror, exit 1), then the address of HOSTNAME
 *
 * The note is a struct in a section named .note.dlopen: gas gives .note* sections the SHT_NOTE
 * type, and ld puts allocated note sections into a PT_NOTE segment, where the loader's readers
 * (and elfdeps) find it by type without section headers.
 */
#include <dlfcn.h>
#include <elf.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#ifndef NOTE_SONAME
#define NOTE_SONAME "libz.so.1"
#endif

#ifndef NOTE_JSON
#define NOTE_JSON                                                                    \
    "[{\"soname\":[\"" NOTE_SONAME "\",\"libz.so\"],\"feature\":\"compression\","    \
    "\"description\":\"Compressed input\",\"priority\":\"required\"},"                \
    "{\"soname\":[\"libmissing-example.so.3\"],\"x-unknown\":{\"k\":[1,2]}}]"
#endif

/* NT_FDO_DLOPEN_METADATA, owner "FDO" (the UAPI group's ELF dlopen metadata). */
#define FDO_DLOPEN_TYPE 0x407c0c0a

/* Emits one dlopen-metadata note: the header, the owner padded to 4 bytes, the JSON with its NUL
 * padded to 4 bytes (a char array longer than its initializer is zero-filled). */
#define ELF_NOTE_DLOPEN(ident, json)                                                 \
    __attribute__((section(".note.dlopen"), used, aligned(4))) static const struct { \
        Elf32_Nhdr nhdr;                                                             \
        char name[4];                                                                \
        char desc[(sizeof(json) + 3) & ~3u];                                         \
    } ident = {{4, sizeof(json), FDO_DLOPEN_TYPE}, "FDO", json}

ELF_NOTE_DLOPEN(dlopen_note, NOTE_JSON);

static int resolve(const char *host) {
    struct addrinfo hints, *res = NULL;
    char text[INET6_ADDRSTRLEN];
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, NULL, &hints, &res);
    if (rc != 0) {
        printf("cannot resolve %s: %s\n", host, gai_strerror(rc));
        return 1;
    }
    const void *addr = res->ai_family == AF_INET6
                           ? (const void *)&((struct sockaddr_in6 *)res->ai_addr)->sin6_addr
                           : (const void *)&((struct sockaddr_in *)res->ai_addr)->sin_addr;
    if (inet_ntop(res->ai_family, addr, text, sizeof text) == NULL) {
        freeaddrinfo(res);
        return 1;
    }
    printf("%s is %s\n", host, text);
    freeaddrinfo(res);
    return 0;
}

int main(int argc, char **argv) {
    void *h = dlopen(NOTE_SONAME, RTLD_NOW);
    if (h == NULL) {
        const char *why = dlerror();
        printf("%s\n", why ? why : "dlopen failed");
        return 1;
    }
    printf("loaded %s\n", NOTE_SONAME);
    if (argc > 1 && resolve(argv[1]) != 0)
        return 1;
    return 0;
}
