package capture_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/internal/capture"
	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// TestAttackCaptureSymlinks: another user plants links to a root-only file
// at the names captures get (<prefix>-<node>-<iface>.pcapng), in a capture
// directory of theirs and in a sticky directory anyone may write (like
// /tmp). vtest refuses the first directory and, in the second, creates
// only new files (never through a link): the target is untouched, and the
// attacker's files are not removed. The healthy twin (a directory of
// root's) captures as usual.
func TestAttackCaptureSymlinks(t *testing.T) {
	attacker := hostcheck.NewLocalUser(t, "attack")
	dir, err := os.MkdirTemp("", "vtest-capture-attack-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	targetDir := filepath.Join(dir, "root-only")
	os.Mkdir(targetDir, 0o700)
	target := filepath.Join(targetDir, "target")
	const untouched = "untouched\n"
	if err := os.WriteFile(target, []byte(untouched), 0o600); err != nil {
		t.Fatal(err)
	}
	s := scenario.Define("caps", "")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").L2()
	n := scenario.New(t, s)

	theirs := filepath.Join(dir, "theirs")
	os.Mkdir(theirs, 0o755)
	os.Chmod(theirs, 0o777)
	os.Chown(theirs, attacker.UID, attacker.GID) // a directory of theirs
	sticky := filepath.Join(dir, "sticky")
	os.Mkdir(sticky, 0o755)
	os.Chmod(sticky, os.ModeSticky|0o777)
	for _, d := range []string{theirs, sticky} {
		attacker.Run(t, "ln", "-s", target, filepath.Join(d, "x-a-eth0.pcapng"))
		c, err := capture.Start(n, d, "x")
		if err == nil {
			c.Stop(false)
		}
		t.Logf("capture into %s: %v", d, err)
		if err == nil {
			t.Errorf("capture into %s with a planted link started", d)
		}
		if d == theirs && (err == nil || !strings.Contains(err.Error(), "belongs to uid")) {
			t.Errorf("capture into the other user's directory: %v, want a refusal naming its owner", err)
		}
		if d == sticky && (err == nil || !strings.Contains(err.Error(), "file exists")) {
			t.Errorf("capture into the sticky directory: %v, want the planted name refused (it exists)", err)
		}
		if b, _ := os.ReadFile(target); string(b) != untouched {
			t.Errorf("capture into %s wrote through the planted link: target is %q", d, b)
			os.WriteFile(target, []byte(untouched), 0o600)
		}
		if _, err := os.Lstat(filepath.Join(d, "x-a-eth0.pcapng")); err != nil {
			t.Errorf("the attacker's link in %s was removed: %v", d, err)
		}
	}

	mine := filepath.Join(dir, "mine")
	c, err := capture.Start(n, mine, "x")
	if err != nil {
		t.Fatalf("capture into root's own directory: %v", err)
	}
	if files := c.Stop(true); len(files) != 1 {
		t.Errorf("captured %v, want one file", files)
	}
}
