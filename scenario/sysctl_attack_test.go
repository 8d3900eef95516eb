package scenario_test

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// escapes are sysctl names that lead out of /proc/sys/net to settings of
// the whole host.
var escapes = []string{
	"net/../kernel/hostname",
	"net.ipv4/../../kernel/hostname",
	"/net/../kernel/hostname",
	"net/ipv4/../../kernel/hostname",
	"net.ipv4.conf.all/../../../../kernel/hostname",
	"kernel.hostname",
	"net..",
	"net.",
	"net",
}

// TestSysctlNamesCannotLeaveTheNetwork: a suite's author (the user whose
// suite runs as root) calls Node.SetSysctl with a name that leads out of
// /proc/sys/net ("net/../kernel/hostname"): the host's name would change.
// Such names are refused at Validate and at run time, and reading them
// fails too. The test runs in a UTS namespace of its own, so a write that
// got through changes that namespace's name, never the host's.
func TestSysctlNamesCannotLeaveTheNetwork(t *testing.T) {
	for _, name := range escapes {
		s := scenario.Define("escape", "")
		s.Host("a").Sysctl(name, "pwned")
		s.Step("set", scenario.SetSysctl("a", name, "pwned"))
		err := s.Validate()
		if err == nil || strings.Count(err.Error(), "is not a network sysctl") != 2 {
			t.Errorf("Validate of sysctl %q: %v; want it refused for the node and for the step", name, err)
		}
	}

	hostcheck.RequireRoot(t)
	if os.Getenv("VTEST_OWN_UTS") == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSysctlNamesCannotLeaveTheNetwork$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "VTEST_OWN_UTS=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUTS}
		out, err := cmd.CombinedOutput()
		t.Logf("in a UTS namespace of its own:\n%s", out)
		if err != nil {
			t.Errorf("%v", err)
		}
		return
	}
	const name = "vtest-own-uts"
	if err := unix.Sethostname([]byte(name)); err != nil {
		t.Fatal(err)
	}
	s := scenario.Define("escape", "")
	s.Host("a")
	s.Host("b")
	s.Link("a", "b")
	n := scenario.New(t, s)
	nd := n.Node("a")
	for _, esc := range escapes {
		if err := nd.SetSysctl(esc, "pwned"); err == nil || !strings.Contains(err.Error(), "not a network sysctl") {
			t.Errorf("SetSysctl(%q): %v; want it refused", esc, err)
		}
		if v, err := nd.Sysctl(esc); err == nil {
			t.Errorf("Sysctl(%q) read %q", esc, v)
		}
		if h, _ := os.Hostname(); h != name {
			t.Fatalf("SetSysctl(%q) changed the host name to %q", esc, h)
		}
	}
	if err := nd.SetSysctl("net.ipv4.ip_forward", "1"); err != nil {
		t.Errorf("a network sysctl: %v", err)
	}
}
