package invoker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// maxLinks bounds the symbolic links OpenTrustedDir follows, as the kernel
// does (MAXSYMLINKS).
const maxLinks = 40

// OpenTrustedDir opens the directory at path (absolute) for keeping files
// that vtest runs as root, such as the suite cache. It walks from / one
// component at a time, opening each without following links, and checks
// every directory on the way: it must belong to a user vtest trusts (see
// Trusts) and be writable by no group or others, unless sticky (like /tmp).
// So no one but root and the user the run is for can swap anything on the
// way, and the returned descriptor is the directory that was checked.
//
// A symbolic link is followed only when root owns it (/home -> /var/home),
// or its owner is the user vtest runs as when that is not root: running as
// root under sudo, vtest never follows a link the invoking user made
// (~/.cache -> /etc). With create, a missing directory is made (0755) only
// inside a directory of the user the run is for (the one behind sudo, else
// vtest's own user), and given to them.
func OpenTrustedDir(path string, create bool) (*os.File, error) {
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("%s is not an absolute path", path)
	}
	for links := 0; ; links++ {
		d, target, rest, err := walkTrusted(path, create)
		if err != nil || d != nil {
			return d, err
		}
		if links == maxLinks {
			return nil, fmt.Errorf("%s: too many levels of symbolic links", path)
		}
		path = filepath.Join(target, rest)
	}
}

// walkTrusted opens path from / as OpenTrustedDir does, until the end or a
// symbolic link it may follow: then it returns no directory, the link's
// target as an absolute path, and what remains after the link.
func walkTrusted(path string, create bool) (d *os.File, target, rest string, err error) {
	fd, err := unix.Open("/", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", "", &fs.PathError{Op: "open", Path: "/", Err: err}
	}
	cur := os.NewFile(uintptr(fd), "/")
	defer func() {
		if d == nil {
			cur.Close()
		}
	}()
	if err := checkTrustedDir(cur); err != nil {
		return nil, "", "", err
	}
	parts := strings.Split(filepath.Clean(path), "/")
	for i, name := range parts {
		if name == "" {
			continue
		}
		next, err := openChild(cur, name, create)
		var link *linkError
		if errors.As(err, &link) {
			t := link.target
			if !filepath.IsAbs(t) {
				t = filepath.Join(cur.Name(), t)
			}
			return nil, t, strings.Join(parts[i+1:], "/"), nil
		}
		if err != nil {
			return nil, "", "", err
		}
		if err := checkTrustedDir(next); err != nil {
			next.Close()
			return nil, "", "", err
		}
		cur.Close()
		cur = next
	}
	return cur, "", "", nil
}

// linkError is a symbolic link openChild may follow.
type linkError struct{ target string }

func (e *linkError) Error() string { return "symbolic link to " + e.target }

// openChild opens the directory name in dir without following a link,
// making it when it is missing and create allows.
func openChild(dir *os.File, name string, create bool) (*os.File, error) {
	path := filepath.Join(dir.Name(), name)
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), path), nil
	case errors.Is(err, unix.ENOENT) && create:
		var st unix.Stat_t
		if err := unix.Fstat(int(dir.Fd()), &st); err != nil {
			return nil, &fs.PathError{Op: "stat", Path: dir.Name(), Err: err}
		}
		if int(st.Uid) != actingUID() {
			return nil, fmt.Errorf("%s does not exist, and vtest makes it only in a directory of uid %d (%s belongs to uid %d)", path, actingUID(), dir.Name(), st.Uid)
		}
		return mkdirAt(dir, name, 0o755)
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR):
		var st unix.Stat_t
		if err := unix.Fstatat(int(dir.Fd()), name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
		}
		if st.Mode&unix.S_IFMT != unix.S_IFLNK {
			return nil, fmt.Errorf("%s is not a directory", path)
		}
		if st.Uid != 0 && (os.Geteuid() == 0 || int(st.Uid) != os.Geteuid()) {
			return nil, fmt.Errorf("%s is a symbolic link of uid %d, which vtest does not follow as root (fix: run vtest as yourself, which runs the suite through sudo, or make it a directory)", path, st.Uid)
		}
		buf := make([]byte, unix.PathMax)
		n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
		if err != nil {
			return nil, &fs.PathError{Op: "readlink", Path: path, Err: err}
		}
		return nil, &linkError{target: string(buf[:n])}
	}
	return nil, &fs.PathError{Op: "open", Path: path, Err: err}
}

// checkTrustedDir says why vtest must not trust the open directory d, or
// returns nil.
func checkTrustedDir(d *os.File) error {
	var st unix.Stat_t
	if err := unix.Fstat(int(d.Fd()), &st); err != nil {
		return &fs.PathError{Op: "stat", Path: d.Name(), Err: err}
	}
	return CheckOwnerMode(d.Name(), &st)
}

// CheckOwnerMode says why vtest must not trust a file or directory with
// the status st, found at path, or returns nil: it must belong to a user
// vtest trusts (Trusts) and be writable by no group or others, unless it
// is a sticky directory (like /tmp), where no one can rename or remove
// what is not theirs.
func CheckOwnerMode(path string, st *unix.Stat_t) error {
	if !Trusts(int(st.Uid)) {
		who := "root"
		if actingUID() != 0 {
			who = fmt.Sprintf("root or uid %d", actingUID())
		}
		return fmt.Errorf("%s belongs to uid %d, not to %s", path, st.Uid, who)
	}
	sticky := st.Mode&unix.S_IFMT == unix.S_IFDIR && st.Mode&unix.S_ISVTX != 0
	if st.Mode&0o022 != 0 && !sticky {
		return fmt.Errorf("%s is writable by group or others (mode %04o; fix: chmod go-w %s)", path, st.Mode&0o7777, path)
	}
	return nil
}

// actingUID is the user a run is for: the one behind sudo, else the user
// vtest runs as.
func actingUID() int {
	if uid, _, ok := sudoIDs(); ok {
		return uid
	}
	return os.Geteuid()
}
