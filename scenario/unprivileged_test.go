package scenario_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/scenario"
)

// TestNewUnprivilegedChild is run by TestNewSkipsWithoutPrivileges as a
// user without privileges: New must skip, not fail and not build.
func TestNewUnprivilegedChild(t *testing.T) {
	if os.Getenv("VTEST_UNPRIVILEGED_CHILD") != "1" {
		t.Skip("run by TestNewSkipsWithoutPrivileges")
	}
	s := scenario.Define("unprivileged", "two hosts")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b").Subnet("10.0.0.0/24")
	scenario.New(t, s)
	t.Fatal("New returned a network without privileges")
}

// TestNewSkipsWithoutPrivileges: plain go test as a normal user skips a
// test that builds a scenario, with the reason and the fix (go test -exec
// sudo), as vtest run says it. As root the child runs as nobody without
// capabilities (setpriv).
func TestNewSkipsWithoutPrivileges(t *testing.T) {
	var cmd *exec.Cmd
	args := []string{"-test.run=^TestNewUnprivilegedChild$", "-test.v", "-test.count=1"}
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("setpriv"); err != nil {
			t.Skip("setpriv not installed (util-linux)")
		}
		// A copy of the test binary that nobody may run.
		dir, err := os.MkdirTemp("", "vtest-unpriv-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		os.Chmod(dir, 0o755)
		bin := filepath.Join(dir, "scenario.test")
		b, err := os.ReadFile(os.Args[0])
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(bin, b, 0o755); err != nil {
			t.Fatal(err)
		}
		cmd = exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", bin}, args...)...)
		cmd.Dir = dir
	} else {
		cmd = exec.Command(os.Args[0], args...)
	}
	cmd.Env = append(os.Environ(), "VTEST_UNPRIVILEGED_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	for _, want := range []string{"--- SKIP: TestNewUnprivilegedChild", `scenario "unprivileged": vtest needs root, or CAP_NET_ADMIN`, "run go test -exec sudo"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
