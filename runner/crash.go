package runner

import (
	"fmt"
	"io"

	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/scenario"
)

// CrashReports writes the reports of a suite process that died before its
// run ended: args are the run flags it was started with, events the private
// event stream it wrote (-events), crash what it printed as it died (a
// panic and its stack, a fatal error, the signal). Finished scenarios are
// reported as they were, running ones as failed with the crash output
// (JUnit: an error case "crash"; KTAP: # ERROR), and scenarios not
// started as interrupted, through the same reporters as a run. It returns
// the exit code (1) and true; or false when the stream shows no run
// started or a run that ended, when there is nothing to rebuild.
func CrashReports(args []string, events io.Reader, crash string, stdout, stderr io.Writer) (int, bool) {
	c, err := parseFlags(args, io.Discard)
	if err != nil {
		return 0, false
	}
	rec, err := reports.ReadRecording(events)
	if err != nil || !rec.Planned() || rec.Ended {
		return 0, false
	}
	finished, running, notStarted := rec.Crashed(crash)
	c.events = "" // the stream is being read, not written
	// The console already showed the finished scenarios; the files are
	// rewritten from the whole stream.
	files, closeAll, err := c.reporters(io.Discard, stderr, false, rec.Plans, rec.Runs, rec.Meta)
	if err != nil {
		fmt.Fprintf(stderr, "vtest: crash reports: %v\n", err)
		return ExitFail, true
	}
	defer closeAll()
	var console reports.Reporter = &reports.Console{W: stdout, Total: len(rec.Runs)}
	if c.ktap {
		files[0], console = reports.KTAP{W: stdout}, nil
	} else {
		files = files[1:]
	}
	fmt.Fprintf(stderr, "vtest: the suite process died before its run ended; writing the reports from its event stream\n")
	var all []scenario.Outcome
	for _, o := range finished {
		files.Start(o.Scenario)
		for _, ch := range o.Checks {
			files.Check(o.Scenario, ch)
		}
		files.Done(o)
		all = append(all, o)
	}
	for _, o := range running {
		files.Start(o.Scenario)
		for _, ch := range o.Checks {
			files.Check(o.Scenario, ch)
		}
		files.Done(o)
		if console != nil {
			console.Done(o)
		}
		all = append(all, o)
	}
	for _, o := range notStarted {
		files.Done(o)
		if console != nil {
			console.Done(o)
		}
		all = append(all, o)
	}
	d := rec.Meta.Elapsed()
	if console != nil {
		console.Finish(all, d)
	}
	if err := files.Finish(all, d); err != nil {
		fmt.Fprintf(stderr, "vtest: %v\n", err)
	}
	return ExitFail, true
}
