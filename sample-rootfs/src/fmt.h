/* fmt.h: private header of libfmt.so.1 (not installed; only libgreet uses it). */
#ifndef FMT_H
#define FMT_H
void fmt_print(const char *text);
#endif
