// Command vtest runs network scenarios written in Go.
//
//	vtest run [flags] PATH...    run the scenarios of the Go packages at PATH
//	vtest build -o FILE PATH...  write those scenarios as one static suite binary
//	vtest list PATH...           list scenarios, their checks and kernel needs
//	vtest kconfig PATH...        print the kernel config fragment they need
//	vtest graph [-mermaid|-json] NAME PATH...  print a scenario's topology (Graphviz DOT, Mermaid or JSON)
//	vtest merge A.xml B.xml...   merge JUnit reports, e.g. of shards
//	vtest clean                  remove namespaces kept by -keep-on-failure
//	vtest version                print the version
//
// How run works: vtest generates a small main package that imports the
// packages at PATH (whose init functions call scenario.Register) and calls
// runner.Main, builds it with the Go toolchain inside the module of the first
// PATH (through a build overlay: nothing is written to your tree), caches the
// binary by a hash of the inputs under the user cache directory, and runs it
// with the remaining flags. vtest build writes the same binary, static
// (CGO_ENABLED=0), to run where there is no Go toolchain.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"

	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/runner"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: vtest COMMAND [flags] [PATH...]

commands:
  run [flags] PATH...      run the scenarios of the Go packages at PATH (see vtest run -h)
  build -o FILE PATH...    write them as one static suite binary that runs like vtest run
  list PATH...             list scenarios, checks and required kernel features
  kconfig PATH...          print the kernel config fragment the scenarios need (declared and implied features)
  graph [-mermaid|-json] NAME [PATH...]  print a scenario's topology, with its addresses, as Graphviz DOT, Mermaid or JSON (PATH: default .)
  merge A.xml B.xml...     merge JUnit reports (e.g. of shards) into one, on stdout
  clean                    remove namespaces kept by -keep-on-failure (/run/netns/vtest-*)
  diff [-markdown] OLD.xml NEW.xml  what changed between two reports; exit 1 on a regression (pass → fail in every run; some runs only: flaky)
  kernel --kernel PATH [flags] PATH...  run the scenarios in a QEMU VM on that kernel (vtest kernel -h)
  version                  print vtest's version

Running scenarios needs root (or CAP_NET_ADMIN and CAP_SYS_ADMIN).
Exit codes: 0 passed (skips allowed), 1 failure, 2 usage or build error, 4 all skipped.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return runner.ExitUsage
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "version", "-version", "--version":
		fmt.Fprintf(stdout, "vtest %s\n", runner.Version)
		return 0
	case "run", "list", "kconfig":
		flags, paths := splitArgs(rest)
		if wantsHelp(flags) && len(paths) == 0 {
			paths = []string{}
		}
		if len(paths) == 0 && !wantsHelp(flags) {
			fmt.Fprintf(stderr, "vtest %s: no PATH given (e.g. vtest %s ./scenarios)\n", cmd, cmd)
			return runner.ExitUsage
		}
		if cmd != "run" {
			flags = append(flags, "-"+cmd)
		}
		flags, execCmd, err := takeExec(flags)
		if err != nil {
			fmt.Fprintf(stderr, "vtest %s: %v\n", cmd, err)
			return runner.ExitUsage
		}
		if wantsHelp(flags) && len(paths) == 0 {
			code := runner.Command(context.Background(), flags, stdout, stderr, nil)
			fmt.Fprintf(stdout, "  -exec command\n    \trun the suite through command, like go test -exec (default: sudo when not root and without CAP_NET_ADMIN; -exec= runs it directly)\n")
			return code
		}
		var prefix []string
		if cmd == "run" {
			// Decided before the build, so a user without privileges
			// learns it at once.
			if prefix, err = privilegePrefix(execCmd); err != nil {
				fmt.Fprintf(stderr, "vtest %s: %v\n", cmd, err)
				return runner.ExitUsage
			}
		}
		exe, cleanup, err := suiteBinary(paths, "", false, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "vtest %s: %v%s\n", cmd, err, captureValueHint(rest))
			return runner.ExitUsage
		}
		defer cleanup()
		if len(prefix) > 0 {
			flags = envFlags(flags)
		}
		if cmd == "run" {
			return runSuite(exe.command(prefix), flags, stdout, stderr)
		}
		return execSuite(exe.command(prefix), flags, stdout, stderr)
	case "build":
		if wantsHelp(rest) {
			fmt.Fprintln(stdout, "usage: vtest build -o FILE PATH...\n\nWrites the scenarios of the Go packages at PATH as one static binary (CGO_ENABLED=0)\nthat takes vtest run's flags and needs no Go toolchain.")
			return 0
		}
		out, paths, err := parseBuild(rest)
		if err != nil {
			fmt.Fprintf(stderr, "vtest build: %v\nusage: vtest build -o FILE PATH...\n", err)
			return runner.ExitUsage
		}
		if _, _, err := suiteBinary(paths, out, true, stderr); err != nil {
			fmt.Fprintf(stderr, "vtest build: %v\n", err)
			return runner.ExitUsage
		}
		return 0
	case "clean":
		if len(rest) == 1 && (rest[0] == "-cache" || rest[0] == "--cache") {
			removed, err := cleanCache()
			for _, r := range removed {
				fmt.Fprintf(stdout, "removed %s\n", r)
			}
			if err != nil {
				fmt.Fprintf(stderr, "vtest clean -cache: %v\n", err)
				return 1
			}
			return 0
		}
		if len(rest) > 0 {
			if wantsHelp(rest) {
				fmt.Fprintln(stdout, "usage: vtest clean [-cache]\n\nRemoves the namespaces that -keep-on-failure kept (/run/netns/vtest-*), and nothing else.\nWith -cache, empties the cache of built suites instead.")
				return 0
			}
			fmt.Fprintln(stderr, "vtest clean: takes no arguments but -cache")
			return runner.ExitUsage
		}
		removed, err := runner.Clean()
		for _, r := range removed {
			fmt.Fprintf(stdout, "removed %s/%s\n", runner.NetnsDir, r)
		}
		if err != nil {
			fmt.Fprintf(stderr, "vtest clean: %v\n", err)
			return 1
		}
		return 0
	case "merge":
		if len(rest) == 0 || wantsHelp(rest) {
			fmt.Fprintln(stderr, "usage: vtest merge A.xml B.xml... > ALL.xml")
			if wantsHelp(rest) {
				return 0
			}
			return runner.ExitUsage
		}
		var ins []io.Reader
		for _, p := range rest {
			f, err := os.Open(p)
			if err != nil {
				fmt.Fprintf(stderr, "vtest merge: %v\n", err)
				return runner.ExitUsage
			}
			defer f.Close()
			ins = append(ins, f)
		}
		if err := reports.MergeJUnit(stdout, ins...); err != nil {
			fmt.Fprintf(stderr, "vtest merge: %v\n", err)
			return runner.ExitUsage
		}
		return 0
	case "kernel":
		return kernelCmd(rest, stdout, stderr)
	case "diff":
		if wantsHelp(rest) {
			fmt.Fprintln(stdout, "usage: vtest diff [-markdown] OLD.xml NEW.xml\n\nCompares two JUnit reports per scenario and check, folding repeated runs (-count):\na check that passed and now fails in every run is a REGRESSION (exit 1), one that\nfails in some runs only is FLAKY. -markdown prints a Markdown table (for a merge request).")
			return 0
		}
		markdown := false
		if len(rest) > 0 && (rest[0] == "-markdown" || rest[0] == "--markdown") {
			markdown, rest = true, rest[1:]
		}
		if len(rest) != 2 {
			fmt.Fprintln(stderr, "usage: vtest diff [-markdown] OLD.xml NEW.xml")
			return runner.ExitUsage
		}
		return diffCmd(rest[0], rest[1], markdown, stdout, stderr)
	case "graph":
		// vtest graph -json means the suite's -graph-json (its -json takes
		// a file).
		rest = slices.Clone(rest)
		for i, a := range rest {
			if a == "-json" || a == "--json" {
				rest[i] = "-graph-json"
			}
		}
		flags, paths := splitArgs(rest)
		if wantsHelp(flags) {
			fmt.Fprintln(stdout, "usage: vtest graph [-mermaid|-json] NAME [PATH...]\n\nPrints scenario NAME's topology, with the addresses that will be allocated, as Graphviz DOT, Mermaid or JSON; PATH defaults to the current directory.")
			return 0
		}
		if len(paths) == 1 {
			paths = append(paths, ".")
		}
		if len(paths) < 2 {
			fmt.Fprintf(stderr, "vtest graph: usage: vtest graph [-mermaid] NAME [PATH...]\n")
			return runner.ExitUsage
		}
		exe, cleanup, err := suiteBinary(paths[1:], "", false, stderr)
		if err != nil {
			fmt.Fprintf(stderr, "vtest graph: %v\n", err)
			return runner.ExitUsage
		}
		defer cleanup()
		return execSuite(exe.command(nil), append(flags, "-graph", paths[0]), stdout, stderr)
	}
	fmt.Fprintf(stderr, "vtest: unknown command %q\n\n%s", cmd, usage)
	return runner.ExitUsage
}

func wantsHelp(flags []string) bool {
	for _, f := range flags {
		if f == "-h" || f == "-help" || f == "--help" {
			return true
		}
	}
	return false
}

// runFlags are the suite's run flags, defined once in runner.
var runFlags = runner.Flags()

// takesValue says whether a flag of vtest run takes a value: -exec (the
// CLI's own) and every run flag that is not boolean. Unknown flags take
// none (the suite reports them).
func takesValue(name string) bool {
	if name == "exec" {
		return true
	}
	f := runFlags.Lookup(name)
	if f == nil {
		return false
	}
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return !ok || !b.IsBoolFlag()
}

// splitArgs separates flags (passed to the suite) from package paths.
func splitArgs(args []string) (flags, paths []string) {
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return flags, append(paths, args[i+1:]...)
		case strings.HasPrefix(a, "-"):
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if !strings.Contains(name, "=") && takesValue(name) && i+1 < len(args) {
				flags = append(flags, args[i+1])
				i++
			}
		default:
			paths = append(paths, a)
		}
	}
	return flags, paths
}

// captureValueHint explains a path that failed as a package path when it
// followed -capture, a switch: the user meant the capture directory.
func captureValueHint(args []string) string {
	for i := 0; i+1 < len(args); i++ {
		if (args[i] == "-capture" || args[i] == "--capture") && !strings.HasPrefix(args[i+1], "-") {
			d := args[i+1]
			return fmt.Sprintf("\n(%s was read as a package path: -capture is a switch and takes no value after a space; "+
				"to name the capture directory write -capture=%s, or -capture -capture-dir %s)", d, d, d)
		}
	}
	return ""
}

// cutFlag splits one command-line argument: isFlag is false when it does
// not start with "-"; otherwise name is the flag's name without its dashes
// and, when it was given as -name=value, val is the value and hasVal true.
func cutFlag(arg string) (name, val string, hasVal, isFlag bool) {
	if !strings.HasPrefix(arg, "-") {
		return "", "", false, false
	}
	name, val, hasVal = strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name, val, hasVal, true
}

func parseBuild(args []string) (out string, paths []string, err error) {
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-o" && i+1 < len(args):
			out = args[i+1]
			i++
		case strings.HasPrefix(a, "-o="):
			out = strings.TrimPrefix(a, "-o=")
		case strings.HasPrefix(a, "-"):
			return "", nil, fmt.Errorf("unknown flag %s", a)
		default:
			paths = append(paths, a)
		}
	}
	if out == "" {
		return "", nil, errors.New("-o FILE is required")
	}
	if len(paths) == 0 {
		return "", nil, errors.New("no PATH given")
	}
	return out, paths, nil
}

// execSuite runs the suite binary (the last element of command, after an
// -exec prefix such as sudo) with the flags, passing signals through (the
// suite handles SIGINT and SIGTERM itself), and returns its exit code.
func execSuite(command []string, flags []string, stdout, stderr io.Writer) int {
	c := exec.Command(command[0], append(command[1:], flags...)...)
	// An *os.File is handed to the child as is, so a terminal stays a
	// terminal for its colour and progress detection.
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, stdout, stderr
	// The parent-death signal comes when the thread that started the
	// child ends, not the process: the thread stays locked to this
	// goroutine until the suite exits, so the signal means vtest died.
	// The suite then stops, tears down and finishes its reports.
	c.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// The suite tears down on SIGINT and SIGTERM itself. A terminal's Ctrl-C
	// reaches it directly (same process group); a signal sent to vtest alone
	// is forwarded.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if err := c.Start(); err != nil {
		fmt.Fprintf(stderr, "vtest: run suite: %v\n", err)
		return runner.ExitUsage
	}
	go func() {
		for s := range sigs {
			_ = c.Process.Signal(s)
		}
	}()
	err := c.Wait()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		fmt.Fprintf(stderr, "vtest: run suite: %v\n", err)
		return runner.ExitUsage
	}
	return 0
}

func diffCmd(oldPath, newPath string, markdown bool, stdout, stderr io.Writer) int {
	o, err := os.Open(oldPath)
	if err != nil {
		fmt.Fprintf(stderr, "vtest diff: %v\n", err)
		return runner.ExitUsage
	}
	defer o.Close()
	n, err := os.Open(newPath)
	if err != nil {
		fmt.Fprintf(stderr, "vtest diff: %v\n", err)
		return runner.ExitUsage
	}
	defer n.Close()
	changes, err := reports.Diff(o, n)
	if err != nil {
		fmt.Fprintf(stderr, "vtest diff: %v\n", err)
		return runner.ExitUsage
	}
	if markdown {
		reports.WriteDiffMarkdown(stdout, changes)
	} else {
		reports.WriteDiff(stdout, changes)
	}
	for _, c := range changes {
		if c.Regression() {
			return 1
		}
	}
	return 0
}
