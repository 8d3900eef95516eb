package runner

import "testing"

func TestFormatKmsg(t *testing.T) {
	for rec, want := range map[string]string{
		"4,512,2000001,-;WARNING: CPU: 0 PID: 1 at x\n SUBSYSTEM=net\n": "[    2.000001] WARNING: CPU: 0 PID: 1 at x",
		"6,1,5,-;hello\n": "[    0.000005] hello",
		"garbage":         "garbage",
	} {
		if got := formatKmsg(rec); got != want {
			t.Errorf("formatKmsg(%q) = %q, want %q", rec, got, want)
		}
	}
}

// TestKernelLogKeepsOnlyWhatRunningScenariosNeed: each scenario gets what
// was logged since it started, and lines no running scenario needs are
// dropped, so a long run does not keep the whole kernel log.
func TestKernelLogKeepsOnlyWhatRunningScenariosNeed(t *testing.T) {
	k := &kernelLog{fd: -1, starts: map[string][]int{}} // reads nothing
	k.lines = append(k.lines, "before")
	k.start("a")
	k.lines = append(k.lines, "a1")
	k.start("b")
	k.lines = append(k.lines, "ab")
	if got := k.take("a"); got != "a1\nab\n" {
		t.Errorf("a got %q", got)
	}
	if len(k.lines) != 1 || k.lines[0] != "ab" {
		t.Errorf("kept %q, want only what b needs", k.lines)
	}
	k.start("a")
	k.lines = append(k.lines, "ab2")
	if got := k.take("b"); got != "ab\nab2\n" {
		t.Errorf("b got %q", got)
	}
	if got := k.take("a"); got != "ab2\n" {
		t.Errorf("a's second run got %q", got)
	}
	if len(k.lines) != 0 || len(k.starts) != 0 {
		t.Errorf("nothing running, yet kept %q %v", k.lines, k.starts)
	}
}
