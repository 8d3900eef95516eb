package main

import (
	"fmt"
	"io"

	"github.com/vtest-dev/vtest/runner"
)

// runSuite runs the suite (command: the binary, after a -exec prefix) for
// vtest run and makes sure the requested
// reports exist however the suite process ends: the suite writes a private
// event stream (the plan, each start, each check as it returns, each
// scenario's outcome, an end record), and if the process dies before the
// end record (a panic in any goroutine, os.Exit or log.Fatal in a check, a
// fatal runtime error, a signal), the reports are rebuilt from the stream
// with the crash output (the tail of its stderr) and vtest run exits 1.
func runSuite(command []string, flags []string, stdout, stderr io.Writer) int {
	w, err := runner.WatchCrash()
	if err != nil {
		fmt.Fprintf(stderr, "vtest: %v\n", err)
		return runner.ExitUsage
	}
	code := execSuite(command, w.Args(flags), stdout, w.Stderr(stderr))
	return w.Finish(flags, code, stdout, stderr)
}
