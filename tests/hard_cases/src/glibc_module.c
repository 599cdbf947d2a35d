/* A glibc extension module: __strdup exists in glibc only, so on musl it cannot relocate. */
extern char *__strdup(const char *);
char *module_dup(const char *s) { return __strdup(s); }
