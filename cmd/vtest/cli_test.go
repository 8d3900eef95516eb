package main

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenarios"
)

var vtestBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vtest-cli-")
	if err != nil {
		panic(err)
	}
	vtestBin = filepath.Join(dir, "vtest")
	if out, err := exec.Command(hostcheck.GoTool(), "build", "-ldflags", "-X github.com/vtest-dev/vtest/runner.Version=v-test", "-o", vtestBin, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build vtest: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func vtest(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(vtestBin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1")
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	r := result{stdout: o.String(), stderr: e.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return r
}

func (r result) must(t *testing.T, code int, want ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, w := range want {
		if !strings.Contains(r.stdout+r.stderr, w) {
			t.Errorf("output lacks %q\nstdout:\n%s\nstderr:\n%s", w, r.stdout, r.stderr)
		}
	}
}

const builtin = "../../scenarios"

func TestUsageErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "usage: vtest COMMAND"},
		{[]string{"bogus"}, `unknown command "bogus"`},
		{[]string{"run"}, "no PATH given"},
		{[]string{"run", "-nope", builtin}, "flag provided but not defined: -nope"},
		{[]string{"run", "-parallel", "0", builtin}, "-parallel 0: must be at least 1"},
		{[]string{"run", "-count", "-3", builtin}, "-count -3"},
		{[]string{"run", "-shard", "3/2", builtin}, "want K/N with 1 ≤ K ≤ N"},
		{[]string{"run", "-run", "(", builtin}, "-run"},
		{[]string{"run", "-run", "zzz-nothing", builtin}, `matches no scenario`},
		{[]string{"run", "./testdata/nonexistent"}, "testdata/nonexistent"},
		{[]string{"run", "./testdata/broken"}, "broken.go:3"},
		{[]string{"run", "./testdata/empty"}, "no scenarios"},
		// A missing directory is created (like CI reporters do); one that
		// cannot be is refused before anything runs.
		{[]string{"run", "-junit", "/dev/null/r.xml", builtin}, "cannot write report /dev/null/r.xml"},
		{[]string{"build", builtin}, "-o FILE is required"},
		{[]string{"merge"}, "usage: vtest merge"},
		{[]string{"clean", "x"}, "takes no arguments"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			vtest(t, ".", tc.args...).must(t, 2, tc.want)
		})
	}
	vtest(t, ".", "run", "-h").must(t, 0, "-keep-on-failure", "-junit")
	vtest(t, ".", "version").must(t, 0, "vtest v-test")
	vtest(t, ".", "--help").must(t, 0, "usage: vtest COMMAND")
	for _, cmd := range []string{"run", "build", "list", "graph", "merge", "clean", "diff", "kernel"} {
		if r := vtest(t, ".", cmd, "--help"); r.code != 0 || !strings.Contains(r.stdout+r.stderr, "usage") {
			t.Errorf("vtest %s --help: exit %d\n%s%s", cmd, r.code, r.stdout, r.stderr)
		}
	}
}

func TestListAndGraph(t *testing.T) {
	vtest(t, ".", "list", builtin).must(t, 0, "netem-delay", "needs: veth, netem", "- left reaches right",
		"needs: veth, vlan\n", "iface left:trunk.10: vlan 10 (802.1q) on trunk", "needs: veth, wireguard", "needs: veth, bridge-vlan")
	vtest(t, ".", "graph", "vxlan-overlay", builtin).must(t, 0, `vx0: vxlan vni 42 port 4789 dev eth0 remotes 10.50.2.1`, `br0: bridge`)
	vtest(t, ".", "graph", "nat", builtin).must(t, 0, `graph "nat" {`, `"gw" -- "outside"`)
	vtest(t, ".", "graph", "-mermaid", "routed", builtin).must(t, 0, "flowchart LR", `(("router (router)"))`)
	vtest(t, ".", "graph", "nosuch", builtin).must(t, 2, `no scenario "nosuch"`)
	vtest(t, builtin, "graph", "bridge").must(t, 0, `graph "bridge"`) // PATH defaults to .
	// The addresses that will be allocated, not "auto".
	dot := vtest(t, ".", "graph", "nat", builtin)
	dot.must(t, 0, `"gw" -- "outside" [label="wan 203.0.113.1/24 — eth0 203.0.113.2/24"]`, `a1 (host)\n0.0.0.0/0 via 10.0.1.1`)
	if strings.Contains(dot.stdout, "auto") {
		t.Errorf("DOT still says auto:\n%s", dot.stdout)
	}
	vtest(t, ".", "graph", "-mermaid", "routed", builtin).must(t, 0, `---|"eth1 10.0.2.1/24 — eth0 10.0.2.2/24"|`)
	js := vtest(t, ".", "graph", "-json", "routed", builtin)
	js.must(t, 0)
	var l struct {
		Nodes []struct {
			Name       string
			Interfaces []struct {
				Name  string
				Addrs []string `json:"addresses"`
			}
			Routes []struct{ Dst, Via string }
		}
		Links []struct{ A, B string }
	}
	if err := json.Unmarshal([]byte(js.stdout), &l); err != nil {
		t.Fatalf("graph -json: %v\n%s", err, js.stdout)
	}
	if len(l.Nodes) != 3 || len(l.Links) != 2 || l.Links[1].A != "router:eth1" || l.Links[1].B != "server:eth0" ||
		l.Nodes[0].Interfaces[0].Addrs[0] != "10.0.1.1/24" || l.Nodes[0].Routes[0].Via != "10.0.1.2" {
		t.Errorf("graph -json routed = %+v", l)
	}
}

func schemas(t *testing.T) string {
	t.Helper()
	dir, _ := filepath.Abs("../../../shared/schemas")
	if _, err := os.Stat(filepath.Join(dir, "jenkins-junit-10.xsd")); err != nil {
		t.Skipf("JUnit schemas not found at %s (../shared is absent in this clone)", dir)
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint is not installed (make deps installs it)")
	}
	return dir
}

func xmllint(t *testing.T, xsd, file string) {
	t.Helper()
	out, err := exec.Command("xmllint", "--noout", "--schema", xsd, file).CombinedOutput()
	if err != nil {
		t.Errorf("%s does not validate against %s: %v\n%s", file, filepath.Base(xsd), err, out)
	}
}

func TestReportsValidate(t *testing.T) {
	hostcheck.RequireRoot(t)
	xsd := schemas(t)
	dir := t.TempDir()
	before := hostcheck.Take(t)
	// Everything, with a skip (netem) and failures.
	all, fails := filepath.Join(dir, "all.xml"), filepath.Join(dir, "fails.xml")
	jsonl := filepath.Join(dir, "events.jsonl")
	vtest(t, ".", "run", "-junit", all, "-json", jsonl, builtin).must(t, 0)
	vtest(t, ".", "run", "-run", "fails", "-junit", fails, "./testdata/failing").must(t, 1,
		"FAIL fails", "a does not reach b", "reachable", "echo reply from")
	for _, f := range []string{all, fails} {
		xmllint(t, filepath.Join(xsd, "jenkins-junit-10.xsd"), f)
	}
	// In its strict form the report also satisfies the strict Ant schema.
	noskip, strictFails := filepath.Join(dir, "noskip.xml"), filepath.Join(dir, "strict-fails.xml")
	vtest(t, ".", "run", "-junit-strict", "-run", "^(nat|routed|bridge)$", "-junit", noskip, builtin).must(t, 0)
	vtest(t, ".", "run", "-junit-strict", "-run", "fails", "-junit", strictFails, "./testdata/failing").must(t, 1)
	for _, f := range []string{noskip, strictFails} {
		xmllint(t, filepath.Join(xsd, "windyroad-JUnit.xsd"), f)
		xmllint(t, filepath.Join(xsd, "jenkins-junit-10.xsd"), f)
	}
	// A failed step: an error case "step: NAME", the check after it skipped.
	steps := filepath.Join(dir, "steps.xml")
	vtest(t, ".", "run", "-run", "broken-step", "-junit", steps, "./testdata/failing").must(t, 1,
		"FAIL broken-step", "step: cannot be done", "the step is broken on purpose")
	xmllint(t, filepath.Join(xsd, "jenkins-junit-10.xsd"), steps)
	if b, _ := os.ReadFile(steps); !bytes.Contains(b, []byte(`type="StepFailed"`)) || !bytes.Contains(b, []byte(`not run: step &#34;cannot be done&#34; failed`)) {
		t.Errorf("step report:\n%s", b)
	}

	b, _ := os.ReadFile(fails)
	for _, w := range []string{`type="CheckFailed"`, "evidence:", "node state at failure", `name="kernel"`, `name="vtest.version" value="v-test"`, `package="vtest"`} {
		if !bytes.Contains(b, []byte(w)) {
			t.Errorf("failing report lacks %q", w)
		}
	}
	b, _ = os.ReadFile(all)
	if !bytes.Contains(b, []byte(`<skipped message="netem: not supported`)) && !bytes.Contains(b, []byte(`name="netem-delay"`)) {
		t.Errorf("netem skip not reported:\n%s", b)
	}
	f, _ := os.Open(jsonl)
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for sc.Scan() {
		var ev map[string]any
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		lines++
	}
	if lines < 10 {
		t.Errorf("only %d JSON events", lines)
	}
	hostcheck.Unchanged(t, before)
}

func TestKTAPThroughProve(t *testing.T) {
	hostcheck.RequireRoot(t)
	if _, err := exec.LookPath("prove"); err != nil {
		t.Skip("prove (perl) is not installed")
	}
	dir := t.TempDir()
	ok := vtest(t, ".", "run", "-ktap", builtin)
	ok.must(t, 0, "KTAP version 1", fmt.Sprintf("1..%d", len(scenarios.All())), "# SKIP netem")
	bad := vtest(t, ".", "run", "-ktap", "-run", "fails", "./testdata/failing")
	bad.must(t, 1, "not ok 1 fails", "\n  # Subtest: fails\n", "\n  not ok 2 a does not reach b", "# Totals: pass:0 fail:1 xfail:0 xpass:0 skip:0 error:0")
	for name, tc := range map[string]struct {
		text string
		pass bool
	}{"ok.tap": {ok.stdout, true}, "bad.tap": {bad.stdout, false}} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(tc.text), 0o644)
		out, err := exec.Command("prove", "--exec", "cat", p).CombinedOutput()
		if (err == nil) != tc.pass {
			t.Errorf("prove on %s: err=%v, want pass=%v\n%s", name, err, tc.pass, out)
		}
	}
}

func TestExitCodesAndTimeout(t *testing.T) {
	hostcheck.RequireRoot(t)
	before := hostcheck.Take(t)
	r := vtest(t, ".", "run", "-run", "netem", builtin)
	if r.code != 4 && r.code != 0 {
		t.Fatalf("all skipped: exit %d, want 4 (or 0 where netem exists)\n%s", r.code, r.stdout)
	}
	start := time.Now()
	vtest(t, ".", "run", "-run", "slow", "-timeout", "300ms", "./testdata/failing").must(t, 1,
		"FAIL slow", "timed out after 300ms in step check waits")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a 300ms timeout took %v", d)
	}
	hostcheck.Unchanged(t, before) // the daemon of the timed-out scenario is gone
}

func TestInterrupt(t *testing.T) {
	hostcheck.RequireRoot(t)
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			before := hostcheck.Take(t)
			dir := t.TempDir()
			junit, events := filepath.Join(dir, "r.xml"), filepath.Join(dir, "e.jsonl")
			cmd := exec.Command(vtestBin, "run", "-run", "slow", "-count", "3", "-parallel", "1", "-junit", junit, "-json", events, "./testdata/failing")
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			// Wait until the first scenario has started.
			deadline := time.Now().Add(60 * time.Second)
			for {
				b, _ := os.ReadFile(events)
				if bytes.Contains(b, []byte(`"action":"start"`)) {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("the run never started:\n%s", out.String())
				}
				time.Sleep(10 * time.Millisecond)
			}
			time.Sleep(100 * time.Millisecond) // let the check start its daemon
			cmd.Process.Signal(sig)
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 1 {
				t.Fatalf("exit %v after %v, want 1\n%s", err, sig, out.String())
			}
			b, _ := os.ReadFile(junit)
			if !bytes.Contains(b, []byte(`type="Interrupted"`)) || bytes.Count(b, []byte("<testsuite ")) != 3 {
				t.Errorf("report does not mark the 3 runs interrupted:\n%s", b)
			}
			if !strings.Contains(out.String(), "INTERRUPTED") {
				t.Errorf("console does not say INTERRUPTED:\n%s", out.String())
			}
			hostcheck.Unchanged(t, before)
		})
	}
}

type junitDoc struct {
	Suites []struct {
		Name  string `xml:"name,attr"`
		Cases []struct {
			Name string `xml:"name,attr"`
		} `xml:"testcase"`
	} `xml:"testsuite"`
}

func caseSet(t *testing.T, b []byte) []string {
	t.Helper()
	var d junitDoc
	if err := xml.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range d.Suites {
		for _, c := range s.Cases {
			out = append(out, s.Name+"/"+c.Name)
		}
	}
	sort.Strings(out)
	return out
}

func TestShardsMergeToTheWhole(t *testing.T) {
	hostcheck.RequireRoot(t)
	dir := t.TempDir()
	whole, s1, s2 := filepath.Join(dir, "whole.xml"), filepath.Join(dir, "s1.xml"), filepath.Join(dir, "s2.xml")
	vtest(t, ".", "run", "-junit", whole, builtin).must(t, 0)
	vtest(t, ".", "run", "-shard", "1/2", "-junit", s1, builtin).must(t, 0)
	cmd := exec.Command(vtestBin, "run", "-junit", s2, builtin)
	cmd.Env = append(os.Environ(), "CI_NODE_INDEX=2", "CI_NODE_TOTAL=2") // GitLab's variables
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	merged := vtest(t, ".", "merge", s1, s2)
	merged.must(t, 0)
	a, _ := os.ReadFile(s1)
	b, _ := os.ReadFile(s2)
	if len(caseSet(t, a)) == 0 || len(caseSet(t, b)) == 0 {
		t.Fatal("a shard is empty")
	}
	w, _ := os.ReadFile(whole)
	if got, want := caseSet(t, []byte(merged.stdout)), caseSet(t, w); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("merged shards differ from the whole run:\n%v\nvs\n%v", got, want)
	}
	if xsd := filepath.Join("../../../shared/schemas/jenkins-junit-10.xsd"); fileExists(xsd) && hasTool("xmllint") {
		m := filepath.Join(dir, "merged.xml")
		os.WriteFile(m, []byte(merged.stdout), 0o644)
		xmllint(t, xsd, m)
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }
func hasTool(n string) bool    { _, err := exec.LookPath(n); return err == nil }

// TestUserModule does what a new user does: a fresh module that requires
// vtest, one file defining a scenario, vtest run ./myscenarios.
func TestUserModule(t *testing.T) {
	hostcheck.RequireRoot(t)
	// Under go test -exec sudo vtest builds as the invoking user, who must
	// be able to read the module.
	dir := readableTempDir(t)
	userModule(t, dir, map[string]string{"myscenarios/mine.go": mineGo})
	vtest(t, dir, "run", "./myscenarios").must(t, 0, "PASS mine", "1 passed")
	// The second run comes from the cache and is quick.
	start := time.Now()
	vtest(t, dir, "run", "./myscenarios").must(t, 0, "PASS mine")
	t.Logf("cached run took %v", time.Since(start))
	if ents, _ := os.ReadDir(dir); len(ents) != 3 { // go.mod, go.sum, myscenarios
		t.Errorf("vtest wrote into the user's module: %v", ents)
	}
}

func TestStaticBuildAndPrivileges(t *testing.T) {
	hostcheck.RequireRoot(t)
	dir := t.TempDir()
	suite := filepath.Join(dir, "suite")
	vtest(t, ".", "build", "-o", suite, builtin).must(t, 0)
	f, err := elf.Open(suite)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("suite binary is dynamically linked")
		}
	}
	f.Close()
	out, err := exec.Command(suite, "-run", "two-namespaces").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "PASS two-namespaces") {
		t.Fatalf("suite binary: %v\n%s", err, out)
	}
	if !hasTool("setpriv") {
		t.Skip("setpriv not installed")
	}
	os.Chmod(dir, 0o755)
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", suite, "-run", "two-namespaces")
	b, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 2 || !strings.Contains(string(b), "CAP_NET_ADMIN") || strings.Contains(string(b), "panic") {
		t.Errorf("without privileges: %v\n%s", err, b)
	}
}

func TestKeepOnFailureAndClean(t *testing.T) {
	hostcheck.RequireRoot(t)
	if runtime.GOOS != "linux" {
		t.Skip()
	}
	r := vtest(t, ".", "run", "-run", "fails", "-keep-on-failure", "-capture-dir", t.TempDir(), "./testdata/failing")
	r.must(t, 1, "ip netns exec vtest-", "vtest clean")
	ents, _ := filepath.Glob("/run/netns/vtest-*")
	if len(ents) != 2 {
		t.Fatalf("kept %v, want the 2 namespaces of the failed scenario", ents)
	}
	if hasTool("ip") {
		out, err := exec.Command("ip", "netns", "exec", filepath.Base(ents[0]), "ip", "-o", "addr").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "10.200.0.") {
			t.Errorf("kept namespace not inspectable: %v\n%s", err, out)
		}
	}
	vtest(t, ".", "clean").must(t, 0, "removed /run/netns/vtest-")
	if left, _ := filepath.Glob("/run/netns/vtest-*"); len(left) != 0 {
		t.Errorf("vtest clean left %v", left)
	}
}

func TestCaptureOfFailedScenario(t *testing.T) {
	hostcheck.RequireRoot(t)
	dir := t.TempDir()
	junit := filepath.Join(dir, "r.xml")
	caps := filepath.Join(dir, "caps")
	vtest(t, ".", "run", "-run", "fails", "-capture", "-capture-dir", caps, "-junit", junit, "./testdata/failing").must(t, 1, "attachment: ")
	files, _ := filepath.Glob(filepath.Join(caps, "*.pcapng"))
	if len(files) != 1 {
		t.Fatalf("captures: %v, want one per link", files)
	}
	b, _ := os.ReadFile(files[0])
	// A pcapng section header block, and ICMP in it (the pings of the checks).
	if len(b) < 100 || !bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		t.Fatalf("%s is not a pcapng file with packets (%d bytes)", files[0], len(b))
	}
	r, _ := os.ReadFile(junit)
	if !bytes.Contains(r, []byte("[[ATTACHMENT|"+files[0]+"]]")) {
		t.Errorf("JUnit does not attach %s:\n%s", files[0], r)
	}
	if hasTool("tcpdump") {
		out, err := exec.Command("tcpdump", "-nr", files[0]).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "ICMP echo request") {
			t.Errorf("tcpdump cannot read the capture: %v\n%s", err, out)
		}
	}
	// Passing scenarios keep no capture.
	caps2 := filepath.Join(dir, "caps2")
	vtest(t, ".", "run", "-run", "^routed$", "-capture", "-capture-dir", caps2, builtin).must(t, 0)
	if files, _ := filepath.Glob(filepath.Join(caps2, "*")); len(files) != 0 {
		t.Errorf("captures kept for a passing scenario: %v", files)
	}
}

// TestCrashReports kills the suite process in the ways user code can (a
// panic in another goroutine, os.Exit(3), log.Fatal, SIGKILL) while the second of
// three scenarios runs: vtest run still writes a valid JUnit report and
// JSON events with every scenario (the first passed, the second an error
// carrying the crash output, the third not started) and exits 1.
func TestCrashReports(t *testing.T) {
	hostcheck.RequireRoot(t)
	xsd := schemas(t)
	before := hostcheck.Take(t)
	for _, tc := range []struct{ crash, output string }{
		{"gopanic", "panic: assignment to entry in nil map"},
		{"exit", "exit status 3"},
		{"fatal", "fatal: configuration is broken"},
		{"sigkill", "killed by signal killed"},
	} {
		t.Run(tc.crash, func(t *testing.T) {
			dir := t.TempDir()
			junit, jsonl := filepath.Join(dir, "r.xml"), filepath.Join(dir, "e.jsonl")
			r := vtest(t, ".", "run", "-parallel", "1", "-run", "^(good|"+tc.crash+"|after)$", "-junit", junit, "-json", jsonl, "./testdata/crashing")
			r.must(t, 1, "PASS good", "FAIL "+tc.crash, "INTERRUPTED after", tc.output, "writing the reports from its event stream")
			xmllint(t, filepath.Join(xsd, "jenkins-junit-10.xsd"), junit)
			b, _ := os.ReadFile(junit)
			want := []string{"good/a reaches b", tc.crash + "/a reaches b", tc.crash + "/crash", "after/setup"}
			sort.Strings(want)
			if got := caseSet(t, b); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("testcases %v, want %v", got, want)
			}
			if !bytes.Contains(b, []byte(`<error message="the suite process died while this scenario ran:" type="Crash">`)) ||
				!bytes.Contains(b, []byte(tc.output)) {
				t.Errorf("no crash error with the crash output:\n%s", b)
			}
			ev, _ := os.ReadFile(jsonl)
			// The events the suite wrote live stay; the crash's are added.
			for _, line := range strings.Split(strings.TrimSpace(string(ev)), "\n") {
				var e map[string]any
				if err := json.Unmarshal([]byte(line), &e); err != nil {
					t.Errorf("bad JSON event %q: %v", line, err)
				}
			}
			for _, w := range []string{`"action":"check","scenario":"` + tc.crash + `","check":"a reaches b","status":"PASS"`, `"action":"done","scenario":"good","status":"PASS"`, `"action":"done","scenario":"` + tc.crash + `","status":"FAIL","step":"crash"`, `"action":"summary"`} {
				if !bytes.Contains(ev, []byte(w)) {
					t.Errorf("JSON events lack %s:\n%s", w, ev)
				}
			}
		})
	}
	// KTAP on stdout is written by vtest run when the suite could not.
	r := vtest(t, ".", "run", "-ktap", "-parallel", "1", "-run", "^(good|gopanic)$", "./testdata/crashing")
	r.must(t, 1, "ok 1 good", "not ok 2 gopanic # ERROR the suite process died", "# Totals: pass:1 fail:0 xfail:0 xpass:0 skip:0 error:1")
	// The suite streamed its KTAP up to the crash; vtest run continued
	// it: one header and plan, tests numbered on.
	if !strings.HasPrefix(r.stdout, "KTAP version 1\n1..2\n") || strings.Count(r.stdout, "\nKTAP version 1\n") != 0 ||
		strings.Count(r.stdout, "\n1..2\n") != 1 || strings.Count(r.stdout, "ok 1 good\n") != 1 {
		t.Errorf("KTAP of the crashed run is not one stream:\n%s", r.stdout)
	}
	if _, err := exec.LookPath("prove"); err == nil {
		p := filepath.Join(t.TempDir(), "crash.tap")
		os.WriteFile(p, []byte(r.stdout), 0o644)
		if out, _ := exec.Command("prove", "--exec", "cat", p).CombinedOutput(); bytes.Contains(out, []byte("Parse errors")) ||
			!bytes.Contains(out, []byte("Failed 1/2 subtests")) {
			t.Errorf("prove on the crashed run's KTAP:\n%s\n%s", out, r.stdout)
		}
	}
	hostcheck.Unchanged(t, before)
}

// TestLiveCheckEvents reads the JSON events while a scenario is still
// running: the first check's event is there before the scenario is done.
func TestLiveCheckEvents(t *testing.T) {
	hostcheck.RequireRoot(t)
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "e.jsonl")
	cmd := exec.Command(vtestBin, "run", "-run", "^slow$", "-timeout", "30s", "-json", jsonl, "./testdata/failing")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	defer cmd.Process.Signal(syscall.SIGTERM)
	deadline := time.Now().Add(60 * time.Second)
	for {
		b, _ := os.ReadFile(jsonl)
		if bytes.Contains(b, []byte(`"action":"check","scenario":"slow","check":"ready"`)) {
			if bytes.Contains(b, []byte(`"action":"done"`)) {
				t.Fatalf("scenario already done: %s", b)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no live check event:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestStuckChecksAreAbandoned runs checks that ignore their context (a
// sleep, a sleep inside a node, a busy loop) next to well-behaved
// scenarios: the run ends in bounded time, the stuck checks are reported
// with their goroutines' stacks, and the good scenarios pass.
func TestStuckChecksAreAbandoned(t *testing.T) {
	hostcheck.RequireRoot(t)
	before := hostcheck.Take(t)
	for _, par := range []string{"1", "4"} {
		t.Run("parallel "+par, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "r.xml")
			start := time.Now()
			r := vtest(t, ".", "run", "-parallel", par, "-timeout", "2s", "-junit", junit,
				"-run", "^(good-1|hangs|hangs-in-node|spins|good-2)$", "./testdata/misbehaving")
			took := time.Since(start)
			r.must(t, 1, "abandoned", "time.Sleep", "misbehaving.init", "2 passed", "3 failed")
			// 3 stuck scenarios × (2 s timeout + 1 s grace) one after another,
			// plus the build and the good ones.
			if limit := 25 * time.Second; took > limit {
				t.Errorf("took %v, want ≤ %v", took, limit)
			}
			b, err := os.ReadFile(junit)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{`name="good-1"`, `name="good-2"`, `name="hangs"`, `name="hangs-in-node"`, `name="spins"`, "abandoned"} {
				if !strings.Contains(string(b), want) {
					t.Errorf("JUnit lacks %s", want)
				}
			}
			t.Logf("-parallel %s: %v", par, took.Round(time.Millisecond))
		})
	}
	hostcheck.Unchanged(t, before)
}

// TestStuckCheckDoesNotHoldTheRun: the whole-run -deadline and SIGINT both
// end a run whose check ignores its context within a few seconds.
func TestStuckCheckDoesNotHoldTheRun(t *testing.T) {
	hostcheck.RequireRoot(t)
	t.Run("deadline", func(t *testing.T) {
		start := time.Now()
		vtest(t, ".", "run", "-timeout", "1h", "-deadline", "3s", "-parallel", "1", "-run", "^(hangs|good-1)$", "./testdata/misbehaving").
			must(t, 1, "INTERRUPTED", "run deadline reached (-deadline 3s)", "abandoned")
		if took := time.Since(start); took > 15*time.Second {
			t.Errorf("took %v", took)
		}
	})
	t.Run("SIGINT", func(t *testing.T) {
		mark := filepath.Join(t.TempDir(), "running")
		cmd := exec.Command(vtestBin, "run", "-timeout", "1h", "-run", "^hangs$", "./testdata/misbehaving")
		cmd.Env = append(os.Environ(), "MISBEHAVING_MARK="+mark)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the check runs (and sleeps).
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if fileExists(mark) {
				break
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("the scenario did not start:\n%s", out.String())
			}
		}
		start := time.Now()
		cmd.Process.Signal(os.Interrupt)
		err := cmd.Wait()
		took := time.Since(start)
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(out.String(), "INTERRUPTED") || !strings.Contains(out.String(), "abandoned") {
			t.Errorf("after SIGINT: %v\n%s", err, out.String())
		}
		if took > 5*time.Second {
			t.Errorf("SIGINT took %v to end the run, want ≤ 5 s", took)
		}
		t.Logf("SIGINT to exit: %v", took.Round(time.Millisecond))
	})
}

// TestInconclusive: an inconclusive timing check is a skip with its reason,
// or a failure with -inconclusive fail or VTEST_INCONCLUSIVE=fail.
func TestInconclusive(t *testing.T) {
	hostcheck.RequireRoot(t)
	vtest(t, ".", "run", "-v", "-run", "^inconclusive$", "./testdata/failing").must(t, 0, "inconclusive: machine too busy", "SKIP")
	vtest(t, ".", "run", "-inconclusive", "fail", "-run", "^inconclusive$", "./testdata/failing").must(t, 1, "inconclusive counts as failure")
	cmd := exec.Command(vtestBin, "run", "-run", "^inconclusive$", "./testdata/failing")
	cmd.Env = append(os.Environ(), "VTEST_INCONCLUSIVE=fail")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "inconclusive counts as failure") {
		t.Errorf("VTEST_INCONCLUSIVE=fail: %v\n%s", err, out)
	}
	vtest(t, ".", "run", "-inconclusive", "maybe", "./testdata/failing").must(t, 2, "want skip or fail")
}

// TestMisbehavingUserCode runs the whole misbehaving fixture — a hang, a
// hang inside a node, a busy loop, a goroutine panic, os.Exit(3) and
// log.Fatal in checks, next to well-behaved scenarios — with -parallel 1
// and 4: the run ends in bounded time with exit 1 and a valid JUnit report
// that lists every scenario, and nothing is left behind.
func TestMisbehavingUserCode(t *testing.T) {
	hostcheck.RequireRoot(t)
	xsd := schemas(t)
	before := hostcheck.Take(t)
	all := []string{"good-1", "good-2", "hangs", "hangs-in-node", "spins", "goroutine-panics", "exits", "log-fatal"}
	for _, par := range []string{"1", "4"} {
		t.Run("parallel "+par, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "r.xml")
			start := time.Now()
			r := vtest(t, ".", "run", "-parallel", par, "-timeout", "2s", "-junit", junit, "./testdata/misbehaving")
			took := time.Since(start)
			if r.code != 1 {
				t.Fatalf("exit %d, want 1\n%s\n%s", r.code, r.stdout, r.stderr)
			}
			if limit := 40 * time.Second; took > limit {
				t.Errorf("took %v, want ≤ %v", took, limit)
			}
			xmllint(t, filepath.Join(xsd, "jenkins-junit-10.xsd"), junit)
			b, _ := os.ReadFile(junit)
			for _, name := range all {
				if !bytes.Contains(b, []byte(`name="`+name+`"`)) {
					t.Errorf("JUnit does not list scenario %s:\n%s", name, b)
				}
			}
			t.Logf("-parallel %s: %v", par, took.Round(time.Millisecond))
		})
	}
	hostcheck.Unchanged(t, before)
}
