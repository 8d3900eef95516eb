package runner

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/internal/capture"
	"github.com/vtest-dev/vtest/internal/invoker"
	"github.com/vtest-dev/vtest/internal/nsx"
	"github.com/vtest-dev/vtest/internal/vm"
	"github.com/vtest-dev/vtest/reports"
	"github.com/vtest-dev/vtest/scenario"
)

// Version is vtest's version, set at link time with
// -ldflags "-X github.com/vtest-dev/vtest/runner.Version=…".
var Version = "devel"

// Main runs the registered scenarios as a command and exits. A suite binary
// (what vtest run and vtest build generate) is a main package that imports
// scenario packages for their registrations and calls Main.
//
// The same binary is the init of a vtest kernel VM: as PID 1 it sets the
// machine up, runs the suite with the arguments from the kernel command
// line and reports on a serial port; run as /sbin/modprobe it loads the
// modules the kernel asks for.
func Main() {
	switch {
	case vm.IsModprobe():
		os.Exit(vm.Modprobe(os.Args[1:]))
	case vm.IsGuest():
		vm.GuestMain(func(args []string, stdout, stderr io.Writer) int {
			if err := scenario.RegistrationError(); err != nil {
				fmt.Fprintf(stderr, "vtest: %v\n", err)
				return ExitUsage
			}
			return guestRun(append(args, "-kernel-log"), stdout, stderr)
		})
	}
	// A scenario registered twice is a mistake in the suite's code: said
	// once, with both places, before anything runs.
	if err := scenario.RegistrationError(); err != nil {
		fmt.Fprintf(os.Stderr, "vtest: %v\n", err)
		os.Exit(ExitUsage)
	}
	os.Exit(Command(context.Background(), os.Args[1:], os.Stdout, os.Stderr, scenario.Registered()))
}

// usageError is reported with exit code 2.
type usageError struct{ error }

// Command runs the suite command line on specs and returns the exit code:
// 0 all passed (skips allowed), 1 a failure or interruption, 2 a usage or
// environment error, 4 everything skipped.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer, specs []*scenario.Spec) int {
	// From the start: a signal that comes before the run begins stops it
	// before anything is created, with every scenario reported as
	// interrupted, instead of killing the process without reports.
	ctx, stop := interruptible(ctx, stderr)
	defer stop()
	cfg, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitPass
	}
	if err != nil {
		fmt.Fprintf(stderr, "vtest: %v\n", err)
		return ExitUsage
	}
	if err := cfg.check(specs); err != nil {
		fmt.Fprintf(stderr, "vtest: %v\n", err)
		return ExitUsage
	}
	if cfg.graph != "" {
		for _, s := range specs {
			if s.Name == cfg.graph {
				l, err := s.Layout()
				if err != nil {
					fmt.Fprintf(stderr, "vtest: %v\n", err)
					return ExitUsage
				}
				switch {
				case cfg.graphJSON:
					err = reports.WriteGraphJSON(stdout, l)
				case cfg.mermaid:
					err = reports.WriteMermaid(stdout, l)
				default:
					err = reports.WriteDOT(stdout, l)
				}
				if err != nil {
					fmt.Fprintf(stderr, "vtest: %v\n", err)
					return ExitUsage
				}
				return ExitPass
			}
		}
		fmt.Fprintf(stderr, "vtest: no scenario %q\n", cfg.graph)
		return ExitUsage
	}
	if cfg.list {
		return list(stdout, Select(specs, cfg.opt))
	}
	if cfg.kconfig {
		if err := reports.WriteKconfig(stdout, Select(specs, Options{Run: cfg.opt.Run, ShardK: cfg.opt.ShardK, ShardN: cfg.opt.ShardN})); err != nil {
			fmt.Fprintf(stderr, "vtest: %v\n", err)
			return ExitUsage
		}
		return ExitPass
	}
	if err := nsx.CheckPrivileges(); err != nil {
		fmt.Fprintf(stderr, "vtest: %v\n(run as root, e.g. sudo; nothing was created)\n", err)
		return ExitUsage
	}
	return cfg.run(ctx, specs, stdout, stderr)
}

type config struct {
	opt       Options
	list      bool
	junit     string
	jsonPath  string
	ktap      bool
	verbose   bool
	shard     string
	runPat    string
	colorMode string
	graph     string
	mermaid   bool
	keep      bool
	capture   bool
	capDir    string
	junitOpt  reports.JUnitOptions
	kconfig   bool
	graphJSON bool
	kernelLog bool
	events    string
	shuffle   string
	deadline  time.Duration
	// inconclusive is what an inconclusive timing check counts as.
	inconclusive string
}

// Flags returns a new flag set holding the run flags, with their defaults:
// the one definition vtest's CLI looks flags up in (to tell which take a
// value) and the suite parses.
func Flags() *flag.FlagSet {
	fs, _ := newFlagSet(io.Discard)
	return fs
}

// newFlagSet defines the run flags on a new flag set and returns it with
// the config they fill.
func newFlagSet(stderr io.Writer) (*flag.FlagSet, *config) {
	c := &config{}
	fs := flag.NewFlagSet("vtest run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: vtest run [flags] PATH...\n\nRuns the scenarios and exits 0 (all passed, skips allowed), 1 (a failure), 2 (usage error) or 4 (all skipped).\n\nflags:\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.runPat, "run", "", "run only scenarios matching `regexp`; \"scenario/check\" also filters checks")
	fs.IntVar(&c.opt.Parallel, "parallel", runtime.NumCPU(), "run up to `n` scenarios at once")
	fs.DurationVar(&c.opt.Timeout, "timeout", 2*time.Minute, "fail a scenario that runs longer than `d`")
	fs.StringVar(&c.inconclusive, "inconclusive", "skip", "an inconclusive timing check (machine too busy to measure): \"skip\" or \"fail\" (default from VTEST_INCONCLUSIVE)")
	fs.DurationVar(&c.deadline, "deadline", 0, "stop the whole run after `d` (like go test -timeout): unfinished scenarios are reported as interrupted; 0 means none")
	fs.IntVar(&c.opt.Count, "count", 1, "run each scenario `n` times")
	fs.StringVar(&c.shuffle, "shuffle", "off", "shuffle the order: \"on\" or a numeric `seed`")
	fs.StringVar(&c.junit, "junit", "", "write a JUnit XML report to `file`")
	fs.BoolVar(&c.junitOpt.Strict, "junit-strict", false, "write JUnit in the form the strict Ant schema accepts (evidence in each testsuite's system-out, not each testcase's)")
	fs.BoolVar(&c.junitOpt.Source, "junit-source", false, "add file and line of the Check call to each JUnit testcase (read by GitHub and GitLab; outside both schemas)")
	fs.StringVar(&c.events, "events", "", "write the private event stream vtest run rebuilds reports from if the suite crashes, to `file` (set by vtest run)")
	fs.StringVar(&c.jsonPath, "json", "", "write JSON events, one per line, to `file`")
	fs.BoolVar(&c.ktap, "ktap", false, "print KTAP to stdout instead of console lines")
	fs.BoolVar(&c.ktap, "tap", false, "same as -ktap (KTAP's top level is TAP)")
	fs.BoolVar(&c.verbose, "v", false, "print the evidence of passed checks too")
	fs.StringVar(&c.shard, "shard", "", "run shard `K/N` only (default from JOB_COMPLETION_INDEX or CI_NODE_INDEX/CI_NODE_TOTAL)")
	fs.BoolVar(&c.list, "list", false, "list the scenarios and exit")
	fs.BoolVar(&c.kernelLog, "kernel-log", false, "put what the kernel logs (/dev/kmsg) during each scenario into its report, and fail a scenario during which the kernel logged a warning (WARNING:, BUG:, Oops, …); vtest kernel sets it")
	fs.BoolVar(&c.kconfig, "kconfig", false, "print the kernel config fragment the selected scenarios need and exit")
	fs.Var(captureFlag{c}, "capture", "record a pcapng per link; keep those of failed scenarios (implied by -keep-on-failure); -capture=DIR also sets -capture-dir")
	fs.StringVar(&c.capDir, "capture-dir", "vtest-captures", "write captures to `dir`")
	fs.BoolVar(&c.keep, "keep-on-failure", false, "keep a failed scenario's namespaces under /run/netns (vtest-*) and print how to inspect them")
	fs.StringVar(&c.graph, "graph", "", "print scenario `name`'s topology as Graphviz DOT and exit")
	fs.BoolVar(&c.mermaid, "mermaid", false, "with -graph: print Mermaid instead of DOT")
	fs.BoolVar(&c.graphJSON, "graph-json", false, "with -graph: print JSON (nodes, interfaces with their addresses, routes, links) instead of DOT")
	fs.StringVar(&c.colorMode, "color", "auto", "colour: auto, always or never (NO_COLOR disables auto)")
	return fs, c
}

// captureFlag is -capture: a switch, which also takes the capture
// directory as -capture=DIR (a value after a space would be read as a
// package path).
type captureFlag struct{ c *config }

func (f captureFlag) IsBoolFlag() bool { return true }

func (f captureFlag) String() string {
	if f.c == nil {
		return "false"
	}
	return strconv.FormatBool(f.c.capture)
}

func (f captureFlag) Set(s string) error {
	if b, err := strconv.ParseBool(s); err == nil {
		f.c.capture = b
		return nil
	}
	if s == "" {
		return errors.New("want true, false or a directory (-capture=DIR)")
	}
	f.c.capture, f.c.capDir = true, s
	return nil
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	fs, c := newFlagSet(stderr)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, usageError{err}
	}
	if fs.NArg() > 0 {
		return nil, usageError{fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))}
	}
	if c.runPat != "" {
		for _, part := range strings.SplitN(c.runPat, "/", 2) {
			if _, err := regexp.Compile(part); err != nil {
				return nil, usageError{fmt.Errorf("-run: %v", err)}
			}
		}
		c.opt.Run = regexp.MustCompile(c.runPat)
	}
	switch {
	case c.opt.Parallel < 1:
		return nil, usageError{fmt.Errorf("-parallel %d: must be at least 1", c.opt.Parallel)}
	case c.opt.Count < 1:
		return nil, usageError{fmt.Errorf("-count %d: must be at least 1", c.opt.Count)}
	case c.opt.Timeout <= 0:
		return nil, usageError{fmt.Errorf("-timeout %s: must be positive", c.opt.Timeout)}
	case c.deadline < 0:
		return nil, usageError{fmt.Errorf("-deadline %s: must not be negative", c.deadline)}
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if v := os.Getenv("VTEST_INCONCLUSIVE"); v != "" && !set["inconclusive"] {
		c.inconclusive = v
	}
	switch c.inconclusive {
	case "skip":
	case "fail":
		c.opt.InconclusiveFails = true
	default:
		return nil, usageError{fmt.Errorf("-inconclusive %q (or VTEST_INCONCLUSIVE): want skip or fail", c.inconclusive)}
	}
	switch c.shuffle {
	case "off":
	case "on":
		c.opt.Shuffle = uint64(time.Now().UnixNano())
	default:
		seed, err := strconv.ParseUint(c.shuffle, 10, 64)
		if err != nil || seed == 0 {
			return nil, usageError{fmt.Errorf("-shuffle %q: want on, off or a positive number", c.shuffle)}
		}
		c.opt.Shuffle = seed
	}
	k, n, err := parseShard(c.shard)
	if err != nil {
		return nil, usageError{err}
	}
	c.opt.ShardK, c.opt.ShardN = k, n
	return c, nil
}

// ShardFromEnv returns the shard "K/N" that CI variables ask for, or "":
// Kubernetes indexed jobs (JOB_COMPLETION_INDEX, 0-based, with
// VTEST_SHARDS) and GitLab (CI_NODE_INDEX 1-based, CI_NODE_TOTAL).
func ShardFromEnv() (string, error) {
	if i, t := os.Getenv("CI_NODE_INDEX"), os.Getenv("CI_NODE_TOTAL"); i != "" && t != "" {
		return i + "/" + t, nil
	}
	if i, t := os.Getenv("JOB_COMPLETION_INDEX"), os.Getenv("VTEST_SHARDS"); i != "" && t != "" {
		idx, err := strconv.Atoi(i)
		if err != nil {
			return "", fmt.Errorf("JOB_COMPLETION_INDEX=%q is not a number", i)
		}
		return fmt.Sprintf("%d/%s", idx+1, t), nil
	}
	return "", nil
}

// parseShard reads K/N from the flag, or from CI variables (ShardFromEnv).
func parseShard(flagVal string) (k, n int, err error) {
	s := flagVal
	if s == "" {
		if s, err = ShardFromEnv(); err != nil {
			return 0, 0, err
		}
	}
	if s == "" {
		return 0, 0, nil
	}
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 1 || k > n {
		return 0, 0, fmt.Errorf("shard %q: want K/N with 1 ≤ K ≤ N", s)
	}
	return k, n, nil
}

func (c *config) check(specs []*scenario.Spec) error {
	if len(specs) == 0 {
		return errors.New("no scenarios: the package defines none (call scenario.Register from init)")
	}
	if c.opt.Run != nil && len(Select(specs, Options{Run: c.opt.Run})) == 0 {
		return fmt.Errorf("-run %q matches no scenario", c.runPat)
	}
	for _, path := range []string{c.junit, c.jsonPath} {
		if path == "" {
			continue
		}
		// Like other CI reporters, create the report's directory.
		if err := invoker.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("cannot write report %s: %w", path, err)
		}
		f, err := os.CreateTemp(filepath.Dir(path), ".vtest-probe-*")
		if err != nil {
			return fmt.Errorf("cannot write report %s: %w", path, err)
		}
		f.Close()
		os.Remove(f.Name())
	}
	return nil
}

func list(w io.Writer, specs []*scenario.Spec) int {
	for _, s := range specs {
		fmt.Fprintf(w, "%s\n    %s\n", s.Name, s.Description)
		if f := s.Features(); len(f) > 0 {
			var names []string
			for _, x := range f {
				names = append(names, string(x))
			}
			fmt.Fprintf(w, "    needs: %s\n", strings.Join(names, ", "))
		}
		if s.NeighboursPreinstalled() {
			fmt.Fprintf(w, "    neighbours: pre-installed, permanent (ARP/NDP not exercised)\n")
		}
		for _, n := range s.Nodes() {
			for _, i := range n.Ifaces() {
				fmt.Fprintf(w, "    iface %s:%s: %s\n", n.Name(), i.Name(), i.Describe())
			}
		}
		for _, ch := range s.Items() {
			if ch.IsStep() {
				fmt.Fprintf(w, "    > step: %s\n", ch.Name)
			} else {
				fmt.Fprintf(w, "    - %s\n", ch.Name)
			}
		}
	}
	return ExitPass
}

func (c *config) run(ctx context.Context, specs []*scenario.Spec, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if c.deadline > 0 {
		// A cancellation, not a timeout: what is unfinished is reported
		// as interrupted, like after Ctrl-C.
		t := time.AfterFunc(c.deadline, func() { cancel(fmt.Errorf("run deadline reached (-deadline %s)", c.deadline)) })
		defer t.Stop()
	}

	meta := reports.Meta{Kernel: kernelRelease(), Version: Version, Start: time.Now()}
	meta.Hostname, _ = os.Hostname()
	tty := isTerminal(stdout)
	sel := Select(specs, c.opt)
	var runs []string
	for _, s := range sel {
		runs = append(runs, s.Name)
	}
	rep, closeAll, err := c.reporters(stdout, stderr, tty, reports.Plan(specs), runs, meta)
	if err != nil {
		fmt.Fprintf(stderr, "vtest: %v\n", err)
		return ExitUsage
	}
	defer closeAll()
	var mu sync.Mutex
	opt := c.opt
	opt.DumpState = true
	if c.capture || c.keep {
		var seq atomic.Int64
		opt.Capture = func(s *scenario.Spec, n *scenario.Network) func(bool) []string {
			cp, err := capture.Start(n, c.capDir, fmt.Sprintf("%s-%d-%d", s.Name, os.Getpid(), seq.Add(1)))
			if err != nil {
				fmt.Fprintf(stderr, "vtest: %s: %v\n", s.Name, err)
				return nil
			}
			return cp.Stop
		}
	}
	if c.keep {
		runID := fmt.Sprintf("%d-%s", os.Getpid(), strconv.FormatInt(time.Now().UnixNano()%1e9, 36))
		opt.OnFailure = func(s *scenario.Spec, n *scenario.Network) []string {
			notes, err := Keep(runID, s, n)
			if err != nil {
				notes = append(notes, "keep-on-failure: "+err.Error())
			}
			return notes
		}
	}
	opt.OnStart = func(s *scenario.Spec) {
		mu.Lock()
		defer mu.Unlock()
		rep.Start(s.Name)
	}
	opt.OnCheck = func(s *scenario.Spec, co scenario.CheckOutcome) {
		mu.Lock()
		defer mu.Unlock()
		rep.Check(s.Name, co)
	}
	opt.OnDone = func(o scenario.Outcome) {
		mu.Lock()
		defer mu.Unlock()
		rep.Done(o)
	}
	if c.kernelLog {
		kl, err := openKernelLog()
		if err != nil {
			fmt.Fprintf(stderr, "vtest: %v\n", err)
			return ExitUsage
		}
		defer kl.close()
		onStart := opt.OnStart
		opt.OnStart = func(s *scenario.Spec) {
			kl.start(s.Name)
			onStart(s)
		}
		opt.Amend = kl.amend
	}
	res := Run(ctx, specs, opt)
	if err := rep.Finish(res.Summary); err != nil {
		fmt.Fprintf(stderr, "vtest: %v\n", err)
		return ExitUsage
	}
	c.dropEvents()
	return res.ExitCode()
}

// interruptible returns ctx cancelled by the first SIGINT or SIGTERM (also
// the parent-death signal vtest run gives the suite): the run stops
// starting scenarios, tears down the running ones and reports them as
// interrupted. A second signal does not cut the teardown short.
//
// It also makes a write to a console nobody reads fail with EPIPE instead
// of killing the process with SIGPIPE: when vtest run is killed, the suite
// goes on writing its reports while its stderr (a pipe to vtest run) has
// no reader. (signal.Notify, not signal.Ignore: an ignored signal stays
// ignored in the processes a scenario starts.)
func interruptible(ctx context.Context, stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	go func() {
		n := 0
		for s := range sigs {
			n++
			if n == 1 {
				fmt.Fprintf(stderr, "\nvtest: %v: stopping; tearing down running scenarios\n", s)
				cancel(fmt.Errorf("received %v", s))
				continue
			}
			fmt.Fprintf(stderr, "vtest: %v again: teardown is in progress and will finish\n", s)
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel(nil)
	}
}

// dropEvents removes the private event stream of vtest run once the run
// has ended and its end record is written: nothing needs it any more.
// vtest run removes it too, but it may be gone (killed) while the suite
// finishes its reports. Its directory goes with it when it is vtest run's
// (named vtest-events-*) and holds nothing else.
func (c *config) dropEvents() {
	if c.events == "" {
		return
	}
	if err := os.Remove(c.events); err != nil {
		return
	}
	if dir := filepath.Dir(c.events); strings.HasPrefix(filepath.Base(dir), eventsDirPrefix) {
		os.Remove(dir) // only if empty
	}
}

// reporters returns the reports this run writes, through one seam: the
// console (or KTAP on stdout), JUnit and JSON files, and last the private
// event stream for crash reports. close closes the files.
func (c *config) reporters(stdout, stderr io.Writer, tty bool, plans []reports.Planned, runs []string, meta reports.Meta) (rep reports.Multi, close func(), err error) {
	var files []io.Closer
	close = func() {
		for _, f := range files {
			f.Close()
		}
	}
	defer func() {
		if err != nil {
			close()
		}
	}()
	if c.ktap {
		rep = append(rep, reports.NewKTAP(stdout, len(runs)))
	} else {
		rep = append(rep, &reports.Console{W: stdout, Verbose: c.verbose, Color: c.color(tty), Live: tty, Total: len(runs)})
	}
	if c.junit != "" {
		rep = append(rep, c.junitFile(plans, meta, stderr))
	}
	if c.jsonPath != "" {
		f := &jsonFile{path: c.jsonPath}
		files = append(files, f)
		rep = append(rep, reports.JSONLines{W: f})
	}
	if c.events != "" {
		f, err := os.OpenFile(c.events, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, close, err
		}
		files = append(files, f)
		r, err := reports.NewRecorder(f, plans, runs, meta)
		if err != nil {
			return nil, close, fmt.Errorf("event stream %s: %w", c.events, err)
		}
		rep = append(rep, r)
	}
	return rep, close, nil
}

// junitFile is the JUnit reporter of -junit.
func (c *config) junitFile(plans []reports.Planned, meta reports.Meta, stderr io.Writer) *reports.JUnitFile {
	return &reports.JUnitFile{Path: c.junit, Plans: plans, Meta: meta, Options: c.junitOpt,
		// A report belongs to whoever asked for it, also under sudo: the
		// new file is given to them in their own directories (see
		// reports.WriteFileAtomic).
		Log: func(err error) { fmt.Fprintf(stderr, "vtest: %v\n", err) }}
}

// color says whether to colour the console: on a terminal, unless NO_COLOR
// is set, or as -color says.
func (c *config) color(tty bool) bool {
	switch c.colorMode {
	case "always":
		return true
	case "never":
		return false
	}
	return tty && os.Getenv("NO_COLOR") == ""
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

func kernelRelease() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(u.Release[:])
}
