package assert_test

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"testing"

	"github.com/gopacket/gopacket"

	vassert "github.com/vtest-dev/vtest/assert"
	vrequire "github.com/vtest-dev/vtest/assert/require"
	"github.com/vtest-dev/vtest/scenario"
)

// passing is a check that needs no network: it passes with this evidence.
func passing(ev string) scenario.CheckFunc {
	return func(context.Context, *scenario.Network) scenario.Result { return scenario.Result{Evidence: ev} }
}

// TestHelperLogLineChild is run by TestHelperLogLine in a child process:
// the log lines of passing helpers, whose file:line it checks.
func TestHelperLogLineChild(t *testing.T) {
	if os.Getenv("VTEST_HELPER_CHILD") != "1" {
		t.Skip("run by TestHelperLogLine")
	}
	vassert.Check(t, nil, passing("evidence-of-assert-check"))   // line 28
	vrequire.Check(t, nil, passing("evidence-of-require-check")) // line 29
}

// TestHelperLogLine: the evidence a passing helper logs points at the
// caller's line, not into package assert (every path calls Helper).
func TestHelperLogLine(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLogLineChild$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "VTEST_HELPER_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{
		`newuser_test\.go:28: evidence-of-assert-check`,
		`newuser_test\.go:29: evidence-of-require-check`,
	} {
		if !regexp.MustCompile(want).Match(out) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
}

// TestMatchString: a match with a function reads as one filter, without a
// doubled "and".
func TestMatchString(t *testing.T) {
	m := vassert.Match{DstPort: 4789, Func: func(gopacket.Packet) bool { return true }}
	if got, want := m.String(), "dst port 4789 and a function of the frame"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := (vassert.Match{Func: func(gopacket.Packet) bool { return true }}).String(), "a function of the frame"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
