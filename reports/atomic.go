package reports

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
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
func WriteFileAtomic(path string, write func(io.Writer) error) error {
	dir, base := filepath.Dir(path), filepath.Base(path)
	removeStaleTemps(dir, base)
	fd, err := unix.Open(dir, unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return writeViaTemp(path, write)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	if err := write(f); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	proc := fmt.Sprintf("/proc/self/fd/%d", fd)
	// The first write publishes in one step: linkat fails if path exists.
	if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW); err == nil {
		return nil
	}
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.tmp-%d-%d", base, os.Getpid(), time.Now().UnixNano()))
	// Linking through /proc needs no privilege beyond writing to dir.
	if err := unix.Linkat(unix.AT_FDCWD, proc, unix.AT_FDCWD, tmp, unix.AT_SYMLINK_FOLLOW); err != nil {
		return writeViaTemp(path, write)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
}

// writeViaTemp writes through a named temporary file and a rename.
func writeViaTemp(path string, write func(io.Writer) error) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := f.Chmod(0o644); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write report %s: %w", path, err)
	}
	return nil
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
