package tmpdir

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSweepRemovesOnlyStale: a held directory survives a sweep, the
// directory of a process killed with SIGKILL does not, and neither do
// other names, files or a link to a stale directory.
func TestSweepRemovesOnlyStale(t *testing.T) {
	if os.Getenv("TMPDIR_HELPER") != "" {
		d, err := New(os.Getenv("TMPDIR_HELPER"), "t-")
		if err != nil {
			panic(err)
		}
		os.WriteFile(filepath.Join(d.Path, "big"), make([]byte, 1<<20), 0o644)
		os.Stdout.WriteString(d.Path + "\n")
		select {} // until killed
	}
	parent := t.TempDir()
	held, err := New(parent, "t-")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Remove()

	// A process that made a directory and was killed with SIGKILL.
	cmd := exec.Command(os.Args[0], "-test.run", "^TestSweepRemovesOnlyStale$")
	cmd.Env = append(os.Environ(), "TMPDIR_HELPER="+parent)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil {
		t.Fatalf("helper: %v", err)
	}
	stale := strings.TrimSpace(line)
	// Things that are not ours to remove.
	other := filepath.Join(parent, "x-other")
	os.Mkdir(other, 0o700)
	file := filepath.Join(parent, "t-file")
	os.WriteFile(file, nil, 0o600)
	link := filepath.Join(parent, "t-link")
	os.Symlink(stale, link)

	removed := Sweep(parent, "t-")
	if !slices.Equal(removed, []string{stale}) {
		t.Errorf("swept %v, want only the killed process's %s", removed, stale)
	}
	for _, p := range []string{held.Path, other, file, link} {
		if _, err := os.Lstat(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := os.Lstat(stale); !os.IsNotExist(err) {
		t.Errorf("stale %s still there: %v", stale, err)
	}
	if err := held.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(held.Path); !os.IsNotExist(err) {
		t.Errorf("removed %s still there: %v", held.Path, err)
	}
}

// TestSweepSkipsOtherOwners: a stale directory of another user stays.
func TestSweepSkipsOtherOwners(t *testing.T) {
	parent := t.TempDir()
	d, err := New(parent, "t-")
	if err != nil {
		t.Fatal(err)
	}
	d.lock.Close() // as if its maker had died
	if got := Sweep(parent, "t-", os.Geteuid()+1); len(got) != 0 {
		t.Errorf("swept another user's %v", got)
	}
	if got := Sweep(parent, "t-"); len(got) != 1 {
		t.Errorf("swept %v, want the stale directory", got)
	}
}
