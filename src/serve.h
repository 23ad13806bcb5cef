/* serve.h: answer HTTP requests as a FastCGI responder or a CGI program. */
#ifndef IMAGEGEN_SERVE_H
#define IMAGEGEN_SERVE_H

struct config;

int serve_is_cgi(void);
int serve_is_fastcgi(void);
int serve_cgi(const struct config *cfg);
int serve_fastcgi(const struct config *cfg);

#endif
