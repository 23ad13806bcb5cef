/* media.h: where a case's images live on disk and on the web. */
#ifndef IMAGEGEN_MEDIA_H
#define IMAGEGEN_MEDIA_H

#include <stddef.h>
#include <stdint.h>

struct config;

struct media_path {
	char dir[4096];		/* {media_dir}/{caseId} */
	char name[80];		/* {itemId}.jpg */
	char path[4200];	/* dir/name */
	char url[4200];		/* {media_url}{caseId}/{itemId}.jpg */
};

int  media_path(const struct config *cfg, const char *case_id, const char *item_id,
	struct media_path *mp);
long media_finished_size(const struct media_path *mp);
int  media_read(const struct media_path *mp, unsigned char **buf, size_t *len);
long media_adoptable(const struct media_path *mp, int64_t since);
int  media_room(const struct config *cfg, const char *case_id, long need, char *err,
	size_t errlen);
int  media_clean_tmp(const struct config *cfg, const char *case_id);
int  media_remove_case(const struct config *cfg, const char *case_id);
int  media_probe(const struct config *cfg, const char *case_id, char *err, size_t errlen);

#endif
