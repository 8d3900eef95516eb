// Package invoker tells who asked for a privileged run: the user behind
// sudo. vtest builds as that user and gives that user the files it writes
// for them, so a "sudo vtest run" never leaves a root-owned file in the
// user's tree or caches.
package invoker

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
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
// does nothing. Reports and captures written by a privileged run belong to
// whoever asked for them. (It reads the environment only: reports are
// rewritten after every scenario.)
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

// MkdirAll is os.MkdirAll that gives every directory it creates to the user
// behind sudo (see Give).
func MkdirAll(dir string, perm os.FileMode) error {
	dir = filepath.Clean(dir)
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil {
			break
		} else if !errors.Is(err, os.ErrNotExist) {
			return err
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, perm); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		if err := Give(missing[i]); err != nil {
			return err
		}
	}
	return nil
}
