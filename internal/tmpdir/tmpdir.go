// Package tmpdir makes temporary directories that outlive no process for
// long: a process that was killed (SIGKILL) before removing its directory
// leaves it to the next process that sweeps the same place.
//
// A directory is held by an exclusive flock(2) on the directory itself for
// as long as its maker uses it. The kernel drops the lock when the maker
// dies, however it dies, so a directory whose lock can be taken is stale.
// Unlike a PID written into the name, a lock cannot be fooled by a reused
// PID or by a maker in another PID namespace or on another machine that
// shares the file system.
package tmpdir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Dir is a temporary directory held by this process.
type Dir struct {
	// Path is the directory's path.
	Path string
	lock *os.File
}

// New creates a directory in parent (os.TempDir() when "") whose name
// starts with prefix, and holds it until Remove.
func New(parent, prefix string) (*Dir, error) {
	if parent == "" {
		parent = os.TempDir()
	}
	for range 3 {
		path, err := os.MkdirTemp(parent, prefix)
		if err != nil {
			return nil, err
		}
		f, err := lockDir(path, unix.LOCK_EX)
		if err != nil {
			os.RemoveAll(path)
			return nil, err
		}
		// A sweeper that opened the directory before the lock was taken
		// may have removed it: then make another.
		var st unix.Stat_t
		if unix.Fstat(int(f.Fd()), &st) == nil && st.Nlink > 0 {
			return &Dir{Path: path, lock: f}, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("temporary directory in %s: removed as soon as it was made, three times", parent)
}

// Remove removes the directory and everything in it, and lets it go.
func (d *Dir) Remove() error {
	if d == nil || d.lock == nil {
		return nil
	}
	err := os.RemoveAll(d.Path)
	d.lock.Close()
	d.lock = nil
	return err
}

// lockDir opens dir (not following a link) and flocks it with how.
func lockDir(dir string, how int) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	f := os.NewFile(uintptr(fd), dir)
	for {
		err = unix.Flock(fd, how)
		if !errors.Is(err, unix.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, &os.PathError{Op: "flock", Path: dir, Err: err}
	}
	return f, nil
}

// Sweep removes the stale directories in parent (os.TempDir() when "")
// whose name starts with prefix: those of a process that died without
// removing them. It leaves alone every directory that is held, that is not
// a directory, or that belongs to a user other than one of owners (the
// effective user when none is given), and returns the paths it removed.
// Removal stays inside parent, whatever links the directories hold.
func Sweep(parent, prefix string, owners ...int) []string {
	if parent == "" {
		parent = os.TempDir()
	}
	if len(owners) == 0 {
		owners = []int{os.Geteuid()}
	}
	ents, err := os.ReadDir(parent)
	if err != nil {
		return nil
	}
	var root *os.Root
	defer func() {
		if root != nil {
			root.Close()
		}
	}()
	var removed []string
	for _, e := range ents {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		path := filepath.Join(parent, e.Name())
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil || !ownedBy(int(st.Uid), owners) {
			continue
		}
		f, err := lockDir(path, unix.LOCK_EX|unix.LOCK_NB)
		if err != nil {
			continue // held, or gone
		}
		if root == nil {
			if root, err = os.OpenRoot(parent); err != nil {
				f.Close()
				return removed
			}
		}
		if root.RemoveAll(e.Name()) == nil {
			removed = append(removed, path)
		}
		f.Close()
	}
	return removed
}

func ownedBy(uid int, owners []int) bool {
	for _, o := range owners {
		if uid == o {
			return true
		}
	}
	return false
}
