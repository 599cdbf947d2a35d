/* greet.h: public header of libgreet, installed as /usr/include/greet.h by the
 * greet-dev package. Demonstrates a file nothing needs at run time. */
#ifndef GREET_H
#define GREET_H
#define GREET_VERSION "1.2.0"
void greet(const char *who);
#endif
