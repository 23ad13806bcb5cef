/*
 * media.c: the files of a case under media_dir, and what a worker that died
 * left there. A final name only ever holds a whole image (image_write
 * renames into place), so a file under it is proof that the image was made.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "config.h"
#include "image.h"
#include "log.h"
#include "media.h"

int
media_path(const struct config *cfg, const char *case_id, const char *item_id,
    struct media_path *mp)
{
	if ((size_t)snprintf(mp->dir, sizeof(mp->dir), "%s/%s", cfg->media_dir, case_id) >=
	    sizeof(mp->dir))
		return -1;
	snprintf(mp->name, sizeof(mp->name), "%s.jpg", item_id);
	snprintf(mp->path, sizeof(mp->path), "%s/%s", mp->dir, mp->name);
	snprintf(mp->url, sizeof(mp->url), "%s%s/%s", cfg->media_url, case_id, mp->name);
	return 0;
}

/*
 * The size of a JPEG at mp that a worker made for this job (created at
 * since, in ms) and can be taken as made: whole, from its SOI marker to
 * its EOI, and written after the job was created, not left by another
 * job of the same case id. -1 if there is none such.
 */
long
media_adoptable(const struct media_path *mp, int64_t since)
{
	unsigned char head[3], tail[2];
	struct stat st;
	int fd = open(mp->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	int ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 8 &&
	    (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000 >= since - 1000 &&
	    pread(fd, head, sizeof(head), 0) == sizeof(head) &&
	    pread(fd, tail, sizeof(tail), st.st_size - 2) == sizeof(tail) &&
	    head[0] == 0xFF && head[1] == 0xD8 && head[2] == 0xFF &&
	    tail[0] == 0xFF && tail[1] == 0xD9;
	close(fd);
	return ok ? (long)st.st_size : -1;
}

/*
 * Room for need bytes on the filesystem of the case's directory, as an
 * unprivileged writer sees it (statvfs's f_bavail), and an inode or two:
 * 0, or -1 with what is free in err. One that cannot be asked has room.
 */
int
media_room(const struct config *cfg, const char *case_id, long need, char *err,
    size_t errlen)
{
	char dir[4096];
	struct statvfs vfs;
	snprintf(dir, sizeof(dir), "%s/%s", cfg->media_dir, case_id);
	if (statvfs(dir, &vfs) != 0 && statvfs(cfg->media_dir, &vfs) != 0)
		return 0;
	unsigned long long free_bytes = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
	if (free_bytes >= (unsigned long long)need && (vfs.f_files == 0 || vfs.f_favail >= 2))
		return 0;
	snprintf(err, errlen, "%llu KiB and %llu inodes free on the filesystem of %s/, short of"
	    " the %ld KiB the pictures outstanding and one more need", free_bytes / 1024,
	    (unsigned long long)vfs.f_favail, case_id, need / 1024);
	return -1;
}

/* The size of the finished image at mp, or -1 if there is none. */
long
media_finished_size(const struct media_path *mp)
{
	struct stat st;
	if (stat(mp->path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size == 0)
		return -1;
	return (long)st.st_size;
}

/* A finished file's bytes, for the database (media_store = database): 0, or -1. */
int
media_read(const struct media_path *mp, unsigned char **buf, size_t *len)
{
	long size = media_finished_size(mp);
	FILE *f = size > 0 ? fopen(mp->path, "rbe") : NULL;
	*buf = f != NULL ? malloc((size_t)size) : NULL;
	*len = *buf != NULL ? fread(*buf, 1, (size_t)size, f) : 0;
	int ok = *buf != NULL && *len == (size_t)size;
	if (f != NULL)
		fclose(f);
	if (!ok) {
		free(*buf);
		*buf = NULL;
	}
	return ok ? 0 : -1;
}

static int
is_tmp(const char *name)
{
	size_t n = strlen(name);
	return name[0] == '.' && n > 4 && strcmp(name + n - 4, ".tmp") == 0;
}

static int
any_file(const char *name)
{
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/*
 * Removes the files of the case's directory that match; *failed if one
 * stayed. The directory's path is left in dir.
 */
static int
remove_files(const struct config *cfg, const char *case_id, int (*match)(const char *),
    char dir[4096], int *failed)
{
	char path[4400];
	snprintf(dir, 4096, "%s/%s", cfg->media_dir, case_id);
	DIR *d = opendir(dir);
	*failed = d == NULL && errno != ENOENT;
	if (d == NULL)
		return 0;
	struct dirent *e;
	int removed = 0;
	while ((e = readdir(d)) != NULL) {
		if (!match(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) == 0)
			removed++;
		else if (errno != ENOENT) {
			log_warn("case %s: cannot remove %s: %s", case_id, path, strerror(errno));
			*failed = 1;
		}
	}
	closedir(d);
	return removed;
}

/*
 * Removes the temporary files of a dead worker. Only the job's owner calls
 * this, so no other process is writing into the directory.
 */
int
media_clean_tmp(const struct config *cfg, const char *case_id)
{
	char dir[4096];
	int failed, removed = remove_files(cfg, case_id, is_tmp, dir, &failed);
	return removed == 0 && failed ? -1 : removed;
}

/*
 * Removes the case's directory and every file in it (images and temporary
 * files alike): the whole directory is the case's. Returns the files
 * removed, or -1.
 */
int
media_remove_case(const struct config *cfg, const char *case_id)
{
	char dir[4096];
	int failed, removed = remove_files(cfg, case_id, any_file, dir, &failed);
	if (!failed && rmdir(dir) != 0 && errno != ENOENT)
		log_warn("case %s: cannot remove %s: %s", case_id, dir, strerror(errno));
	return failed ? -1 : removed;
}

/*
 * Before the first paid request: can the case's directory take a file? A
 * full or read-only disk fails the job at once, with the reason, instead of
 * image by image after each was paid for.
 */
int
media_probe(const struct config *cfg, const char *case_id, char *err, size_t errlen)
{
	static const unsigned char probe[] = "probe";
	char dir[4096], name[64], path[4200];
	snprintf(dir, sizeof(dir), "%s/%s", cfg->media_dir, case_id);
	snprintf(name, sizeof(name), ".probe-%ld", (long)getpid());
	if (image_write(dir, name, probe, sizeof(probe), err, errlen) != 0) {
		snprintf(err, errlen, "cannot write to %s/: %s", case_id, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	unlink(path);
	return 0;
}
