package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/invoker"
	"github.com/vtest-dev/vtest/internal/tmpdir"
	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/scenario"
)

// CrashReports writes the reports of a suite process that died before its
// run ended: args are the run flags it was started with, events the private
// event stream it wrote (-events), crash what it printed as it died (a
// panic and its stack, a fatal error, the signal). Finished scenarios are
// reported as they were, running ones as failed with the crash output
// (JUnit: an error case "crash"; KTAP: # ERROR), and scenarios not
// started as interrupted, through the same reporters as a run. KTAP on
// stdout is continued where the suite's stream stopped. When events is
// also an io.Seeker (the event file), it is read twice so that the
// finished runs pass through one at a time; else they are all read into
// memory first. It returns
// the exit code (1) and true; or false when the stream shows no run
// started or a run that ended, when there is nothing to rebuild.
func CrashReports(args []string, events io.Reader, crash string, stdout, stderr io.Writer) (int, bool) {
	c, err := parseFlags(args, io.Discard)
	if err != nil {
		return 0, false
	}
	// A first reading finds whether the run crashed; a second passes the
	// finished runs on one at a time as it reads them (when events can be
	// read again, as the event file can).
	seeker, again := events.(io.Seeker)
	var skip func(scenario.Outcome)
	if again {
		skip = func(scenario.Outcome) {}
	}
	rec, err := reports.ReadRecordingFunc(events, skip)
	if err != nil || !rec.Planned() || rec.Ended {
		return 0, false
	}
	_, running, notStarted := rec.Crashed(crash)
	// What the suite printed and wrote as it ran stays: its console lines
	// or KTAP and its JSON events (a reader may be following the file
	// with tail -f) get the crashed and never-started scenarios and the
	// totals added. The JUnit report is written whole.
	var whole, added reports.Multi
	if c.junit != "" {
		whole = append(whole, c.junitFile(rec.Plans, rec.Meta, stderr))
	}
	if c.ktap {
		added = append(added, reports.ResumeKTAP(stdout, rec.Finished))
	} else {
		added = append(added, &reports.Console{W: stdout, Verbose: c.verbose, Color: c.color(false), Total: len(rec.Runs)})
	}
	if c.jsonPath != "" {
		f, err := openToAppend(c.jsonPath)
		if err != nil {
			fmt.Fprintf(stderr, "vtest: crash reports: %v\n", err)
		} else {
			defer f.Close()
			added = append(added, reports.JSONLines{W: f})
		}
	}
	fmt.Fprintf(stderr, "vtest: the suite process died before its run ended; writing the reports from its event stream\n")
	sum := reports.Summary{Duration: rec.Meta.Elapsed()}
	replay := func(o scenario.Outcome, started bool) {
		if started {
			whole.Start(o.Scenario)
			for _, ch := range o.Checks {
				whole.Check(o.Scenario, ch)
			}
		}
		whole.Done(o)
		sum.Add(o)
	}
	if again {
		if _, err := seeker.Seek(0, io.SeekStart); err != nil {
			fmt.Fprintf(stderr, "vtest: crash reports: %v\n", err)
			return ExitFail, true
		}
		if _, err := reports.ReadRecordingFunc(events, func(o scenario.Outcome) { replay(o, true) }); err != nil {
			fmt.Fprintf(stderr, "vtest: crash reports: %v\n", err)
		}
	} else {
		for _, o := range rec.Done {
			replay(o, true)
		}
	}
	for _, o := range running {
		replay(o, true)
		added.Done(o)
	}
	for _, o := range notStarted {
		replay(o, false)
		added.Done(o)
	}
	if err := errors.Join(whole.Finish(sum), added.Finish(sum)); err != nil {
		fmt.Fprintf(stderr, "vtest: %v\n", err)
	}
	return ExitFail, true
}

// openToAppend opens a JSON lines file to add events, after a newline if
// its last line was cut short. It opens only the report the suite wrote: a
// regular file with one name, of root or the user the run is for, never
// through a link planted at path; when there is none it creates a new one
// (reports.CreateFile).
func openToAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return reports.CreateFile(path)
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("not appending to the JSON report: %s is a symbolic link now, not the file the suite wrote", path)
	}
	if err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, err
	}
	why := invoker.CheckOwnerMode(path, &st)
	switch {
	case why != nil:
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		why = fmt.Errorf("%s is not a regular file", path)
	case st.Nlink != 1:
		why = fmt.Errorf("%s has %d names (hard links)", path, st.Nlink)
	}
	if why != nil {
		f.Close()
		return nil, fmt.Errorf("not appending to the JSON report: %w", why)
	}
	if st.Size > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, st.Size-1); err == nil && last[0] != '\n' {
			f.Write([]byte("\n"))
		}
	}
	return f, nil
}

// guestRun runs the suite in a vtest kernel VM as a child of init, under a
// CrashWatch: a suite that crashes is reported (and init, which must not
// die, powers off as usual) instead of panicking the kernel.
func guestRun(args []string, stdout, stderr io.Writer) int {
	w, err := WatchCrash()
	if err != nil {
		fmt.Fprintf(stderr, "vtest: %v; running the suite in init itself\n", err)
		return Command(context.Background(), args, stdout, stderr, scenario.Registered())
	}
	cmd := exec.Command("/proc/self/exe", w.Args(args)...)
	cmd.Stdout, cmd.Stderr = stdout, w.Stderr(stderr)
	err = cmd.Run()
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	case err != nil:
		fmt.Fprintf(stderr, "vtest: run the suite: %v\n", err)
		return ExitUsage
	}
	return w.Finish(args, code, stdout, stderr)
}

// CrashWatch runs alongside a suite process so its reports exist however
// it ends. Give the process Args and Stderr, then call Finish with its exit
// code: if the process died before its run ended (a panic in any
// goroutine, os.Exit or log.Fatal in a check, a fatal runtime error, a
// signal), Finish writes the reports from the process's event stream and
// the tail of its stderr (CrashReports) and returns 1.
type CrashWatch struct {
	dir    *tmpdir.Dir
	events string
	tail   tailWriter
}

// eventsDirPrefix starts the name of a CrashWatch's private directory.
const eventsDirPrefix = "vtest-events-"

// SweepCrashWatches removes the private directories of this user's
// CrashWatches whose process was killed (SIGKILL) before it removed them.
// WatchCrash calls it; so does every vtest command that builds a suite, so
// that a run killed after its build leaves nothing to the next build.
func SweepCrashWatches() { tmpdir.Sweep("", eventsDirPrefix) }

// WatchCrash prepares a CrashWatch: a private directory for the event
// stream. (The suite removes the stream when its run ended; a later
// WatchCrash removes the directory of a watcher that was killed.)
func WatchCrash() (*CrashWatch, error) {
	// The directories of watchers that were killed (SIGKILL) go first.
	SweepCrashWatches()
	dir, err := tmpdir.New("", eventsDirPrefix)
	if err != nil {
		return nil, err
	}
	w := &CrashWatch{dir: dir, events: filepath.Join(dir.Path, "events.jsonl"), tail: tailWriter{max: 64 << 10}}
	// Created here, so it is ours to read even when the suite runs as
	// another user (through sudo), which appends to it.
	if err := os.WriteFile(w.events, nil, 0o600); err != nil {
		dir.Remove()
		return nil, err
	}
	return w, nil
}

// Args returns the suite's run flags with the event stream added.
func (w *CrashWatch) Args(flags []string) []string {
	return append(append([]string{}, flags...), "-events", w.events)
}

// Stderr returns the writer for the suite's stderr: stderr, with a copy of
// the tail kept for the crash output.
func (w *CrashWatch) Stderr(stderr io.Writer) io.Writer { return io.MultiWriter(stderr, &w.tail) }

// Finish returns the run's exit code: code when the suite ended its run,
// else 1 after writing the reports of the crashed run. flags are the run
// flags without the event stream. It removes the private directory.
func (w *CrashWatch) Finish(flags []string, code int, stdout, stderr io.Writer) int {
	defer w.dir.Remove()
	f, err := os.Open(w.events)
	if err != nil {
		return code // no run began (a usage error, -h, -list)
	}
	defer f.Close()
	if c, crashed := CrashReports(flags, f, crashOutput(code, w.tail.String()), stdout, stderr); crashed {
		return c
	}
	return code
}

// crashOutput describes how the suite process ended, from its exit code
// (128+N for signal N) and the tail of its stderr: the panic or fatal
// error with its stack when there is one, else the last lines it printed.
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
