package runner

import (
	"strings"
	"testing"
)

func TestCrashOutput(t *testing.T) {
	panicTail := "PASS good (0.1s)\n2026/12/02 log line\npanic: assignment to entry in nil map\n\ngoroutine 7 [running]:\nmain.f()\n\t/x.go:3 +0x1\n"
	for _, tc := range []struct {
		code       int
		tail       string
		want, lose string
	}{
		{2, panicTail, "exit status 2; its stderr ends with:\npanic: assignment to entry in nil map\n\ngoroutine 7 [running]:", "PASS good"},
		{2, "fatal error: concurrent map writes\n\ngoroutine 1", "fatal error: concurrent map writes", ""},
		{1, "2026/12/02 14:00:00 fatal: configuration is broken\n", "exit status 1; its stderr ends with:\n2026/12/02 14:00:00 fatal: configuration is broken", ""},
		{137, "", "killed by signal killed (it printed nothing on stderr)", ""},
		{3, "", "exit status 3 (it printed nothing on stderr)", ""},
	} {
		got := crashOutput(tc.code, tc.tail)
		if !strings.Contains(got, tc.want) || (tc.lose != "" && strings.Contains(got, tc.lose)) {
			t.Errorf("crashOutput(%d, %q) = %q, want it to contain %q", tc.code, tc.tail, got, tc.want)
		}
	}
	var w tailWriter
	w.max = 8
	w.Write([]byte("0123456789"))
	w.Write([]byte("ab"))
	if got := w.String(); got != "456789ab" {
		t.Errorf("tail = %q", got)
	}
}
