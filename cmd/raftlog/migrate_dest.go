package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/raftlog/raftlog/internal/vfs"
	"github.com/raftlog/raftlog/recovery"
	"golang.org/x/sys/unix"
)

// migratingSuffix names the directory a migration builds the log in,
// beside DIR.
const migratingSuffix = ".migrating"

// dest is where a migration goes: dir, built first in tmp.
type dest struct {
	dir, tmp string
	// existed: dir is an empty directory, whose mode and owner the new
	// log keeps.
	existed bool
	// base is dir's nearest ancestor that exists: the directories below
	// it are created, and their entries must be synced too.
	base     string
	perm     os.FileMode
	uid, gid int
}

// checkDest checks that dir does not exist or is an empty directory that
// a rename can replace.
func checkDest(dir string) (*dest, error) {
	dir = filepath.Clean(dir)
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real // replace the directory, not the link to it
	}
	d := &dest{dir: dir, tmp: dir + migratingSuffix}
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, syscall.ENOTDIR):
		return nil, fmt.Errorf("cannot create %s: %s is a file", dir, fileAncestor(dir))
	case isNotExist(err):
		d.base = filepath.Dir(dir)
		for {
			if _, err := os.Stat(d.base); err == nil || d.base == filepath.Dir(d.base) {
				break
			}
			d.base = filepath.Dir(d.base)
		}
		return d, nil
	case errors.Is(err, fs.ErrPermission):
		return nil, errors.New(permissionText(dir))
	case err != nil:
		return nil, err
	case !st.IsDir():
		return nil, fmt.Errorf("%s exists and is not a directory: migrate creates a new log directory; give a new path", dir)
	}
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrPermission) {
		return nil, errors.New(permissionText(dir))
	}
	if err != nil {
		return nil, err
	}
	if len(ents) > 0 {
		for _, e := range ents {
			if fileKind(e.Name()) == kindSegment {
				return nil, fmt.Errorf("%s already holds a raftlog log: move it away first, or give a new path", dir)
			}
		}
		names := make([]string, len(ents))
		for i, e := range ents {
			names[i] = e.Name()
		}
		return nil, fmt.Errorf("%s is not empty (%s): migrate only into a new or empty directory", dir, listText(names, "entry", "entries"))
	}
	parent, err := os.Stat(filepath.Dir(dir))
	if err != nil {
		return nil, err
	}
	sys, ok1 := st.Sys().(*syscall.Stat_t)
	psys, ok2 := parent.Sys().(*syscall.Stat_t)
	if ok1 && ok2 && sys.Dev != psys.Dev {
		return nil, fmt.Errorf("%s is a mount point: migrate renames the finished copy into place, which cannot replace a mount point; migrate into a directory inside it, such as %s", dir, filepath.Join(dir, "raft"))
	}
	d.existed, d.perm, d.base = true, st.Mode().Perm(), filepath.Dir(dir)
	if ok1 {
		d.uid, d.gid = int(sys.Uid), int(sys.Gid)
	}
	return d, nil
}

// clearLeftover removes the tmp directory an interrupted migration left,
// unless another migration is using it or it holds files a migration
// does not make.
func (d *dest) clearLeftover() (bool, error) {
	st, err := os.Lstat(d.tmp)
	if isNotExist(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if !st.IsDir() {
		return false, fmt.Errorf("%s exists and was not made by raftlog migrate: move it away", d.tmp)
	}
	ents, err := os.ReadDir(d.tmp)
	if err != nil {
		return false, err
	}
	for _, e := range ents {
		if k := fileKind(e.Name()); k == kindOther || k == kindBroken || !e.Type().IsRegular() {
			return false, fmt.Errorf("%s holds %s, which raftlog migrate does not make: move the directory away", d.tmp, e.Name())
		}
	}
	if f, err := os.OpenFile(filepath.Join(d.tmp, recovery.LockName), os.O_RDWR, 0); err == nil {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		_ = f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return false, fmt.Errorf("another raftlog migrate into %s is running (it holds %s locked): wait for it, or stop it and run this again", d.dir, d.tmp)
		}
	}
	if err := os.RemoveAll(d.tmp); err != nil {
		return false, err
	}
	return true, vfs.SyncPath(filepath.Dir(d.tmp))
}

// finish gives the finished copy in tmp its owner and the directory's
// mode, makes that durable, and renames tmp to dir. It returns the new
// directory's mode and owner, for the report.
func (d *dest) finish(src *source) (string, error) {
	uid, gid := src.uid, src.gid
	if d.existed {
		uid, gid = d.uid, d.gid
	}
	ents, err := os.ReadDir(d.tmp)
	if err != nil {
		return "", err
	}
	paths := []string{d.tmp}
	for _, e := range ents {
		paths = append(paths, filepath.Join(d.tmp, e.Name()))
	}
	for _, p := range paths {
		if os.Geteuid() == 0 {
			if err := os.Lchown(p, uid, gid); err != nil {
				return "", err
			}
		}
		if p == d.tmp && d.existed {
			if err := os.Chmod(p, d.perm); err != nil {
				return "", err
			}
		}
		if err := vfs.SyncPath(p); err != nil { // the inode's new owner and mode
			return "", err
		}
	}
	// rename(2) replaces an empty directory atomically; os.Rename refuses
	// any existing directory.
	if err := unix.Rename(d.tmp, d.dir); err != nil {
		return "", fmt.Errorf("rename %s to %s: %w", d.tmp, d.dir, err)
	}
	for p := filepath.Dir(d.dir); ; p = filepath.Dir(p) {
		if err := vfs.SyncPath(p); err != nil {
			return "", err
		}
		if p == d.base || p == filepath.Dir(p) {
			break
		}
	}
	return ownerText(d.dir), nil
}
