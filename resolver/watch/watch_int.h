/*
 * watch private: what its unit test checks beside the public interface.
 */
#pragma once

#include <stdbool.h>

#include "vpcdns/watch.h"

/* Whether a file system of this statfs(2) type is one whose files other
 * hosts change without an event here (NFS, SMB/CIFS, FUSE, 9P, Ceph, AFS,
 * Coda, OCFS2, GFS2): its folders are not watched. */
bool vd_watch_fs_remote(unsigned long f_type);
