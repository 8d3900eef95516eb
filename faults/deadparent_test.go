package faults

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
)

// The scenario runs of the faults suite (testdata/suite), by name.
var suiteScenarios = []string{"big", "fail", "hang", "panic", "pass", "report", "slow"}

// TestKillVtestRun sends SIGKILL to vtest run itself (not to the suite
// process it runs) during the build of the suite, during the run and
// while the reports are written, 50 runs in all. What vtest run started
// must finish the job without it: the suite stops, tears down and writes
// complete reports (every scenario run, the unfinished ones interrupted,
// the JSON stream with its summary); nothing stays alive, no namespace
// and no temporary file stays behind (a killed build's directory is
// removed by the next build).
func TestKillVtestRun(t *testing.T) {
	hostcheck.RequireRoot(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 2))
	k := killRig(t)
	start := time.Now()
	for i := range 10 {
		t.Run(fmt.Sprintf("build-%02d", i), func(t *testing.T) { k.killDuringBuild(t, time.Duration(rnd.IntN(1500))*time.Millisecond) })
	}
	k.sweptByNextBuild(t)
	for i := range 25 {
		delay := time.Duration(rnd.IntN(1000)) * time.Millisecond
		t.Run(fmt.Sprintf("run-%02d-after-%v", i, delay), func(t *testing.T) {
			k.killDuringRun(t, delay, "-parallel", "3")
		})
	}
	for i := range 15 {
		delay := time.Duration(rnd.IntN(300)) * time.Millisecond
		t.Run(fmt.Sprintf("report-%02d-after-%v", i, delay), func(t *testing.T) {
			k.killDuringRun(t, delay, "-run", "^report$", "-count", "6", "-parallel", "2")
		})
	}
	t.Logf("50 kills of vtest run took %v", time.Since(start).Round(time.Second))
}

// rig is what the kills share: vtest's environment, with a TMPDIR and a
// suite cache of their own, so that whatever they leave shows.
type rig struct {
	tmp, cache string
	env        []string
}

func killRig(t *testing.T) *rig {
	dir := t.TempDir()
	k := &rig{tmp: filepath.Join(dir, "tmp"), cache: filepath.Join(dir, "cache")}
	os.Mkdir(k.tmp, 0o755)
	gocache, err := exec.Command(hostcheck.GoTool(), "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	k.env = append(os.Environ(), "NO_COLOR=1", "TMPDIR="+k.tmp, "XDG_CACHE_HOME="+k.cache,
		"GOCACHE="+strings.TrimSpace(string(gocache)))
	return k
}

func (k *rig) vtest(args ...string) *exec.Cmd {
	cmd := exec.Command(vtestBin, args...)
	cmd.Env = k.env
	return cmd
}

// suites are the built suites in the cache.
func (k *rig) suites() []string {
	m, _ := filepath.Glob(filepath.Join(k.cache, "vtest", "suites", "[^.]*"))
	return m
}

// leftovers lists what is in the rig's TMPDIR and the build directories in
// its suite cache.
func (k *rig) leftovers() []string {
	var out []string
	ents, _ := os.ReadDir(k.tmp)
	for _, e := range ents {
		out = append(out, filepath.Join(k.tmp, e.Name()))
	}
	m, _ := filepath.Glob(filepath.Join(k.cache, "vtest", "suites", ".build-*"))
	return append(out, m...)
}

// killDuringBuild starts an uncached vtest run and kills it once the go
// command has built for delay.
func (k *rig) killDuringBuild(t *testing.T, delay time.Duration) {
	for _, s := range k.suites() {
		os.Remove(s) // uncached: vtest run builds
	}
	dir := t.TempDir()
	junit, events := filepath.Join(dir, "r.xml"), filepath.Join(dir, "e.jsonl")
	before := hostcheck.Take(t)
	cmd := k.vtest("run", "-junit", junit, "-json", events, "./testdata/suite")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	goPID := 0
	for deadline := time.Now().Add(2 * time.Minute); goPID == 0; {
		goPID = childRunning(cmd.Process.Pid, "go", "build")
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("vtest never ran go build:\n%s", out.String())
		}
		time.Sleep(2 * time.Millisecond) // polling /proc, with a deadline
	}
	time.Sleep(delay) // a random moment of the build, not a readiness wait
	// Stopped, vtest run cannot move on between the look and the kill: a
	// build that ends in between leaves an unreaped go command, which
	// counts as ended (its command line is gone), and vtest run has
	// created nothing after it.
	cmd.Process.Signal(syscall.SIGSTOP)
	stillBuilding := childRunning(cmd.Process.Pid, "go", "build") != 0
	cmd.Process.Kill()
	cmd.Wait()
	if !stillBuilding {
		t.Logf("the build had ended when the kill came")
	}
	for deadline := time.Now().Add(30 * time.Second); syscall.Kill(goPID, 0) == nil; {
		if time.Now().After(deadline) {
			t.Fatalf("go build %d still runs 30 s after vtest run was killed", goPID)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if stillBuilding {
		// Nothing ran: no report, and the build's directories are stale
		// (removed by the next build, see sweptByNextBuild).
		for _, p := range []string{junit, events} {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("a report was written though the suite never ran: %s", p)
			}
		}
		if s := k.suites(); len(s) > 0 {
			t.Errorf("a suite reached the cache though its build was killed: %v", s)
		}
		for _, l := range k.leftovers() {
			base := filepath.Base(l)
			if !strings.HasPrefix(base, ".build-") && !strings.HasPrefix(base, "vtest-gowork-") {
				t.Errorf("left after a kill during the build: %s", l)
			}
		}
	}
	verifyKilled(t, before, junit, events, false, false)
}

// sweptByNextBuild runs the next build: it leaves nothing of the killed
// ones.
func (k *rig) sweptByNextBuild(t *testing.T) {
	stale := k.leftovers()
	if out, err := k.vtest("list", "./testdata/suite").CombinedOutput(); err != nil {
		t.Fatalf("vtest list: %v\n%s", err, out)
	}
	if left := k.leftovers(); len(left) > 0 {
		t.Errorf("after the next build, left: %v", left)
	}
	t.Logf("the next build removed the %d directories the killed builds left", len(stale))
}

// killDuringRun starts vtest run (the suite is cached) and kills it delay
// after the suite started its first scenario, or (with -run ^report$)
// finished it: then the suite is writing reports.
func (k *rig) killDuringRun(t *testing.T, delay time.Duration, flags ...string) {
	dir := t.TempDir()
	junit, events := filepath.Join(dir, "r.xml"), filepath.Join(dir, "e.jsonl")
	before := hostcheck.Take(t)
	cmd := k.vtest(append(append([]string{"run"}, flags...), "-junit", junit, "-json", events, "./testdata/suite")...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// Wait returns once vtest run is dead and the suite, which shares
	// its stdout, has exited; the bound is for a suite that never does.
	cmd.WaitDelay = time.Minute
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Progress as the private event stream of vtest run shows it.
	mark := []byte(`"kind":"start"`)
	if flags[1] == "^report$" {
		mark = []byte(`"kind":"done"`) // the first JUnit write is under way
	}
	stream := func() []byte {
		m, _ := filepath.Glob(filepath.Join(k.tmp, "vtest-events-*", "events.jsonl"))
		if len(m) == 0 {
			return nil
		}
		return readFile(m[0])
	}
	for deadline := time.Now().Add(2 * time.Minute); !bytes.Contains(stream(), mark); {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the run never got to %s:\n%s", mark, out.String())
		}
		time.Sleep(2 * time.Millisecond) // polling the stream, with a deadline
	}
	time.Sleep(delay) // a random moment, not a readiness wait
	cmd.Process.Kill()
	if err := cmd.Wait(); errors.Is(err, exec.ErrWaitDelay) {
		t.Errorf("the suite still ran a minute after vtest run was killed:\n%s", out.String())
	}
	want, reporting := suiteScenarios, flags[1] == "^report$"
	if reporting {
		want = []string{"report", "report", "report", "report", "report", "report"}
	}
	// "slow" ends only when interrupted.
	completeReports(t, junit, events, want, !reporting)
	if left := k.leftovers(); len(left) > 0 {
		t.Errorf("temporary files left: %v", left)
	}
	verifyKilled(t, before, junit, events, !reporting, false)
}

// completeReports checks that the JUnit report holds every scenario run of
// want, the ones that did not end interrupted (some, when mustInterrupt),
// and that the JSON stream ends with its summary counting them all.
func completeReports(t *testing.T, junit, events string, want []string, mustInterrupt bool) {
	t.Helper()
	var doc struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Error *struct {
					Type string `xml:"type,attr"`
				} `xml:"error"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Errorf("no JUnit report: %v", err)
		return
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Errorf("JUnit report is not well-formed: %v", err)
		return
	}
	got := map[string]int{}
	interrupted := 0
	for _, s := range doc.Suites {
		name, _, _ := strings.Cut(s.Name, " ")
		got[name]++
		for _, c := range s.Cases {
			if c.Error != nil && c.Error.Type == "Interrupted" {
				interrupted++
				break
			}
		}
	}
	for _, w := range want {
		got[w]--
	}
	for name, n := range got {
		if n != 0 {
			t.Errorf("JUnit report: %+d runs of %s (want %v)", n, name, want)
		}
	}
	var last []byte
	f, err := os.Open(events)
	if err != nil {
		t.Errorf("no JSON report: %v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		last = append(last[:0], sc.Bytes()...)
	}
	var sum struct {
		Action string
		Counts map[string]int
	}
	json.Unmarshal(last, &sum)
	total := 0
	for _, n := range sum.Counts {
		total += n
	}
	if sum.Action != "summary" || total != len(want) || mustInterrupt && sum.Counts["INTERRUPTED"] == 0 {
		t.Errorf("the JSON report does not end with a summary of %d runs (some interrupted: %v); its last line: %.300s", len(want), mustInterrupt, last)
	}
	if sum.Counts["INTERRUPTED"] != interrupted {
		t.Errorf("JUnit has %d interrupted runs, the JSON summary %d", interrupted, sum.Counts["INTERRUPTED"])
	}
}

// childRunning returns the PID of a child of pid whose command is name
// with argument arg, or 0.
func childRunning(pid int, name, arg string) int {
	tasks, _ := filepath.Glob("/proc/" + strconv.Itoa(pid) + "/task/*/children")
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, c := range strings.Fields(string(b)) {
			comm, _ := os.ReadFile("/proc/" + c + "/comm")
			args, _ := os.ReadFile("/proc/" + c + "/cmdline")
			if strings.TrimSpace(string(comm)) == name && bytes.Contains(args, []byte("\x00"+arg+"\x00")) {
				n, _ := strconv.Atoi(c)
				return n
			}
		}
	}
	return 0
}
