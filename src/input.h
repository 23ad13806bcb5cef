/* input.h: checks on a raw JSON body before it is parsed: UTF-8 and nesting. */
#ifndef IMAGEGEN_INPUT_H
#define IMAGEGEN_INPUT_H

#include <stddef.h>

int input_check(const char *body, size_t len, long max_depth, char *err, size_t errlen);

#endif
