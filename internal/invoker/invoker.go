// Package invoker tells who asked for a privileged run: the user behind
// sudo. vtest builds as that user and gives that user the files it writes
// for them, so a "sudo vtest run" never leaves a root-owned file in the
// user's tree or caches. It also says what vtest, running as root, may
// trust on their behalf (Trusts, CheckOwnerMode, OpenTrustedDir): files of
// root and of that user only, where no one else can swap them.
package invoker

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// User is the user behind sudo.
type User struct {
	UID, GID int
	Name     string
	Home     string
	// Groups are the user's supplementary group IDs.
	Groups []uint32
}

// FromSudo returns the user who ran this process through sudo: the process
// runs as root and sudo's SUDO_UID names a user other than root. ok is false
// otherwise (not root, not under sudo, or sudo from root).
func FromSudo() (u User, ok bool) {
	uid, gid, ok := sudoIDs()
	if !ok {
		return User{}, false
	}
	u = User{UID: uid, GID: gid, Name: os.Getenv("SUDO_USER")}
	if pw, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		u.Name, u.Home = pw.Username, pw.HomeDir
		if ids, err := pw.GroupIds(); err == nil {
			for _, id := range ids {
				if g, err := strconv.ParseUint(id, 10, 32); err == nil {
					u.Groups = append(u.Groups, uint32(g))
				}
			}
		}
	}
	return u, true
}

// sudoIDs reads the IDs of the user behind sudo from the environment sudo
// sets, when this process runs as root for a user other than root.
func sudoIDs() (uid, gid int, ok bool) {
	if os.Geteuid() != 0 {
		return 0, 0, false
	}
	uid, err1 := strconv.Atoi(os.Getenv("SUDO_UID"))
	gid, err2 := strconv.Atoi(os.Getenv("SUDO_GID"))
	return uid, gid, err1 == nil && err2 == nil && uid > 0
}

// Give hands path to the user behind sudo, if there is one; without sudo it
// does nothing. It changes the path's owner whatever is there: use it only
// on a path vtest has just made in a directory no one else can write (a
// private temporary directory); for a file in a directory of the user's
// choosing, give the open file with GiveCreated instead.
func Give(path string) error {
	uid, gid, ok := sudoIDs()
	if !ok {
		return nil
	}
	if err := os.Lchown(path, uid, gid); err != nil {
		return fmt.Errorf("give %s to uid %d: %w", path, uid, err)
	}
	return nil
}

// GiveCreated hands f, a file vtest has just created in the directory dir
// (both open), to the user behind sudo, if there is one, when dir is theirs:
// owned by them, or a sticky directory anyone may create files in (/tmp).
// A report belongs to whoever asked for it, but a file in a directory the
// user could not write stays root's: sudo vtest run -junit /root/x gives
// the user no file of root's. It changes the owner through the descriptor,
// never by a path someone could have swapped.
func GiveCreated(f, dir *os.File) error {
	uid, gid, ok := sudoIDs()
	if !ok {
		return nil
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
		return fmt.Errorf("give %s to uid %d: %w", f.Name(), uid, err)
	}
	anyone := st.Mode&unix.S_ISVTX != 0 && st.Mode&0o002 != 0
	if int(st.Uid) != uid && !anyone {
		return nil
	}
	if err := f.Chown(uid, gid); err != nil {
		return fmt.Errorf("give %s to uid %d: %w", f.Name(), uid, err)
	}
	return nil
}

// Trusts reports whether vtest may trust what a user owns: root, the user
// vtest runs as, or the user behind sudo (who asked for the run and whose
// suite it runs anyway).
func Trusts(uid int) bool {
	if uid == 0 || uid == os.Geteuid() {
		return true
	}
	u, _, ok := sudoIDs()
	return ok && uid == u
}

// MkdirAll is os.MkdirAll that gives every directory it creates, and only
// those, to the user behind sudo (see Give). It makes each missing
// directory in its parent's open descriptor and changes the owner through
// the new directory's descriptor, opened without following links, so a
// directory someone else put in its place is never given away.
func MkdirAll(dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	var missing []string
	top := dir
	for ; ; top = filepath.Dir(top) {
		if _, err := os.Lstat(top); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, filepath.Base(top))
		if filepath.Dir(top) == top {
			break
		}
	}
	if len(missing) == 0 {
		return nil
	}
	parent, err := os.Open(top)
	if err != nil {
		return err
	}
	defer func() { parent.Close() }()
	for i := len(missing) - 1; i >= 0; i-- {
		d, err := mkdirAt(parent, missing[i], perm)
		if err != nil {
			return fmt.Errorf("mkdir %s: %w", filepath.Join(parent.Name(), missing[i]), err)
		}
		parent.Close()
		parent = d
	}
	return nil
}

// mkdirAt makes the directory name in parent and opens it without
// following links; one made here is given to the user behind sudo, one
// that already existed is opened as it is.
func mkdirAt(parent *os.File, name string, perm os.FileMode) (*os.File, error) {
	made := true
	if err := unix.Mkdirat(int(parent.Fd()), name, uint32(perm.Perm())); errors.Is(err, unix.EEXIST) {
		made = false
	} else if err != nil {
		return nil, err
	}
	fd, err := unix.Openat(int(parent.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	d := os.NewFile(uintptr(fd), filepath.Join(parent.Name(), name))
	if made {
		if uid, gid, ok := sudoIDs(); ok {
			if err := d.Chown(uid, gid); err != nil {
				d.Close()
				return nil, err
			}
		}
	}
	return d, nil
}
