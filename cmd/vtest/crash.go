package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/vtest-dev/vtest/runner"
)

// runSuite runs the suite binary for vtest run and makes sure the requested
// reports exist however the suite process ends. The suite writes a private
// event stream (-events: the plan, each start, each check as it returns,
// each scenario's outcome, an end record); if the process dies before the
// end record (a panic in any goroutine, os.Exit or log.Fatal in a check, a
// fatal runtime error, a signal), the reports are rebuilt from the stream
// with the crash output (the tail of its stderr) and vtest run exits 1.
func runSuite(bin string, flags []string, stdout, stderr io.Writer) int {
	dir, err := os.MkdirTemp("", "vtest-events-")
	if err != nil {
		fmt.Fprintf(stderr, "vtest: %v\n", err)
		return runner.ExitUsage
	}
	defer os.RemoveAll(dir)
	events := filepath.Join(dir, "events.jsonl")
	tail := &tailWriter{max: 64 << 10}
	code := execSuite(bin, append(flags, "-events", events), stdout, io.MultiWriter(stderr, tail))
	f, err := os.Open(events)
	if err != nil {
		return code // no run began (usage error, -h)
	}
	defer f.Close()
	if c, crashed := runner.CrashReports(flags, f, crashOutput(code, tail.String()), stdout, stderr); crashed {
		return c
	}
	return code
}

// crashOutput describes how the suite process ended, from its exit code
// and the tail of its stderr: the panic or fatal error with its stack when
// there is one, else the last lines it printed.
func crashOutput(code int, stderrTail string) string {
	how := fmt.Sprintf("exit status %d", code)
	if code > 128 && code < 128+65 {
		how = fmt.Sprintf("killed by signal %v", syscall.Signal(code-128))
	}
	out := stderrTail
	for _, marker := range []string{"\npanic: ", "\nfatal error: ", "\nSIG"} {
		if i := strings.Index("\n"+out, marker); i >= 0 {
			out = out[i:]
			break
		}
	}
	if lines := strings.Split(strings.TrimSpace(out), "\n"); len(lines) > 200 {
		out = strings.Join(lines[:200], "\n") + "\n…"
	}
	if strings.TrimSpace(out) == "" {
		return how + " (it printed nothing on stderr)"
	}
	return how + "; its stderr ends with:\n" + strings.TrimSpace(out)
}

// tailWriter keeps the last max bytes written to it.
type tailWriter struct {
	mu  sync.Mutex
	max int
	buf bytes.Buffer
}

func (t *tailWriter) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if extra := t.buf.Len() - t.max; extra > 0 {
		t.buf.Next(extra)
	}
	return len(p), nil
}

func (t *tailWriter) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.buf.String()
}
