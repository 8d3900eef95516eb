package invoker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenTrustedDir walks paths as the suite cache is opened: root's own
// links are followed, links of another user are not (running as root), a
// directory others may write is refused unless sticky, and missing
// directories are made only inside one of the user's.
func TestOpenTrustedDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the checks are about owners")
	}
	t.Setenv("SUDO_UID", "")
	base := t.TempDir()
	os.Chmod(base, 0o755)
	real := filepath.Join(base, "real")
	os.MkdirAll(filepath.Join(real, "cache"), 0o755)
	os.Symlink(real, filepath.Join(base, "rootlink"))
	os.Symlink(real, filepath.Join(base, "userlink"))
	os.Lchown(filepath.Join(base, "userlink"), 12345, 12345)
	open := func(p string, create bool) error {
		d, err := OpenTrustedDir(p, create)
		if err == nil {
			d.Close()
		}
		return err
	}
	if err := open(filepath.Join(base, "rootlink", "cache"), false); err != nil {
		t.Errorf("through root's link: %v", err)
	}
	if err := open(filepath.Join(base, "userlink", "cache"), false); err == nil || !strings.Contains(err.Error(), "symbolic link of uid 12345") {
		t.Errorf("through another user's link: %v, want a refusal", err)
	}
	if err := open(filepath.Join(base, "real", "made", "here"), true); err != nil {
		t.Errorf("making directories in root's own: %v", err)
	}
	os.Chmod(filepath.Join(real, "cache"), 0o775)
	if err := open(filepath.Join(real, "cache"), false); err == nil || !strings.Contains(err.Error(), "writable by group or others") {
		t.Errorf("group-writable: %v, want a refusal", err)
	}
	os.Chmod(filepath.Join(real, "cache"), os.ModeSticky|0o777)
	if err := open(filepath.Join(real, "cache"), false); err != nil {
		t.Errorf("sticky: %v", err)
	}
	theirs := filepath.Join(base, "theirs")
	os.Mkdir(theirs, 0o755)
	os.Chown(theirs, 12345, 12345)
	if err := open(filepath.Join(theirs, "x"), true); err == nil || !strings.Contains(err.Error(), "belongs to uid 12345") {
		t.Errorf("another user's directory: %v, want a refusal", err)
	}
	if _, err := os.Lstat(filepath.Join(theirs, "x")); err == nil {
		t.Errorf("made a directory in another user's")
	}
}
