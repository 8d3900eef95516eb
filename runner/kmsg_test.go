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
