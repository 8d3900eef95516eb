package reports

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/invoker"
)

// WriteFileAtomic writes a report so that a reader never sees half of it,
// even if the run is killed while writing: the content goes to a file with
// no name (O_TMPFILE), which is linked under path directly when path does
// not exist yet, else under a temporary name that is renamed over path.
// A SIGKILL during the write therefore leaves nothing behind. Replacing an
// existing report takes two system calls (link, rename) and no system call
// does it in one: a SIGKILL between them leaves the complete new report
// under ".NAME.tmp-PID-N" beside the complete old one; the next write to
// path removes such files of processes that are gone. Where O_TMPFILE is
// not supported it falls back to a named temporary file.
//
// The report is always a new file: whatever path named before (a file, a
// symbolic link planted there) is replaced, never written through. Under
// sudo the new file is given to the user behind sudo when its directory is
// theirs (see invoker.GiveCreated).
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	f, err := createNew(path)
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	defer f.close()
	if err := write(f.File); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := f.publish(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// CreateFile creates a new, empty report at path for writing as it runs
// (JSON lines): like WriteFileAtomic, it replaces whatever path named and
// never opens an existing file or follows a link there.
func CreateFile(path string) (*os.File, error) {
	return CreateFileWith(path, nil)
}

// CreateFileWith is CreateFile whose file holds first before it is
// published at path: an existing report is replaced only by a new one that
// has at least that in it, and stays as it was when writing it fails (a
// full disk). The file is returned open, for writing the rest.
func CreateFileWith(path string, first []byte) (*os.File, error) {
	f, err := createNew(path)
	if err != nil {
		return nil, fmt.Errorf("create report %s: %w", path, err)
	}
	if _, err := f.Write(first); err != nil {
		f.close()
		return nil, fmt.Errorf("create report %s: %w", path, err)
	}
	if err := f.publish(); err != nil {
		f.close()
		return nil, fmt.Errorf("create report %s: %w", path, err)
	}
	f.dir.Close()
	return f.File, nil
}

// newFile is a report file created without a name (or under a temporary
// one) in the directory dir, to be published at base.
type newFile struct {
	*os.File
	dir       *os.File
	base, tmp string
	anonymous bool
}

// createNew creates the file of a report to be published at path, given
// (see invoker.GiveCreated) but not yet visible there.
func createNew(path string) (*newFile, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	removeStaleTemps(dir, base)
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	f := &newFile{dir: d, base: base}
	fd, err := unix.Openat(int(d.Fd()), ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err == nil {
		f.File, f.anonymous = os.NewFile(uintptr(fd), path), true
	} else {
		// No O_TMPFILE here: a named temporary file, made exclusively.
		f.tmp = tempName(base)
		fd, err := unix.Openat(int(d.Fd()), f.tmp, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
		if err != nil {
			d.Close()
			return nil, err
		}
		f.File = os.NewFile(uintptr(fd), path)
	}
	// The mode is not left to the umask.
	if err := f.Chmod(0o644); err != nil {
		f.close()
		return nil, err
	}
	if err := invoker.GiveCreated(f.File, d); err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

// publish puts the file in place: linked at its name when nothing is
// there, else renamed over what is.
func (f *newFile) publish() error {
	dirfd := int(f.dir.Fd())
	if f.anonymous {
		// Linking through /proc needs no privilege beyond writing to
		// dir; without /proc, AT_EMPTY_PATH does it for root.
		link := func(name string) error {
			err := unix.Linkat(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), dirfd, name, unix.AT_SYMLINK_FOLLOW)
			if errors.Is(err, unix.ENOENT) {
				err = unix.Linkat(int(f.Fd()), "", dirfd, name, unix.AT_EMPTY_PATH)
			}
			return err
		}
		// The first write publishes in one step: linkat fails if path
		// exists (also as a symbolic link, which it does not follow).
		if err := link(f.base); err == nil {
			return nil
		}
		f.tmp = tempName(f.base)
		if err := link(f.tmp); err != nil {
			f.tmp = ""
			return err
		}
	}
	if err := unix.Renameat(dirfd, f.tmp, dirfd, f.base); err != nil {
		return err
	}
	f.tmp = ""
	return nil
}

// close closes the file and its directory, and removes the temporary name
// of one that was not published.
func (f *newFile) close() {
	if f.tmp != "" {
		unix.Unlinkat(int(f.dir.Fd()), f.tmp, 0)
	}
	f.File.Close()
	f.dir.Close()
}

// tempName is the name of a report being replaced, which removeStaleTemps
// recognizes.
func tempName(base string) string {
	return fmt.Sprintf(".%s.tmp-%d-%d", base, os.Getpid(), time.Now().UnixNano())
}

// removeStaleTemps removes ".base.tmp-PID-N" files left in dir by writers
// that were killed between link and rename and are gone.
func removeStaleTemps(dir, base string) {
	matches, _ := filepath.Glob(filepath.Join(dir, "."+base+".tmp-*"))
	for _, m := range matches {
		var pid, n int64
		if _, err := fmt.Sscanf(filepath.Base(m), "."+base+".tmp-%d-%d", &pid, &n); err != nil || pid == int64(os.Getpid()) {
			continue
		}
		if err := unix.Kill(int(pid), 0); err == unix.ESRCH {
			os.Remove(m)
		}
	}
}
