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
)

var vtestBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "vtest-cli-")
	if err != nil {
		panic(err)
	}
	vtestBin = filepath.Join(dir, "vtest")
	if out, err := exec.Command("go", "build", "-ldflags", "-X github.com/vtest-dev/vtest/runner.Version=v-test", "-o", vtestBin, ".").CombinedOutput(); err != nil {
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
		{[]string{"run", "-junit", "/nonexistent-dir/r.xml", builtin}, "cannot write report /nonexistent-dir/r.xml"},
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
	// Without skips the report must also satisfy the strict Ant schema.
	noskip := filepath.Join(dir, "noskip.xml")
	vtest(t, ".", "run", "-run", "^(nat|routed|bridge)$", "-junit", noskip, builtin).must(t, 0)
	xmllint(t, filepath.Join(xsd, "windyroad-JUnit.xsd"), noskip)
	xmllint(t, filepath.Join(xsd, "windyroad-JUnit.xsd"), fails)

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
	ok.must(t, 0, "KTAP version 1", "1..8", "# SKIP netem")
	bad := vtest(t, ".", "run", "-ktap", "-run", "fails", "./testdata/failing")
	bad.must(t, 1, "not ok 1 fails", "    not ok 2 a does not reach b")
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
	repo, _ := filepath.Abs("../..")
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "myscenarios"), 0o755)
	gomod := fmt.Sprintf("module example.com/mine\n\ngo 1.25.0\n\nrequire github.com/vtest-dev/vtest v0.0.0\n\nreplace github.com/vtest-dev/vtest => %s\n", repo)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o644)
	os.WriteFile(filepath.Join(dir, "myscenarios", "mine.go"), []byte(`package myscenarios

import (
	"github.com/vtest-dev/vtest/assert"
	"github.com/vtest-dev/vtest/scenario"
)

func init() {
	s := scenario.Define("mine", "my own scenario")
	s.Host("client")
	s.Host("server")
	s.Link("client", "server").Subnet("192.168.77.0/24")
	s.Check("client reaches server", assert.Reach("client", "server"))
	scenario.Register(s)
}
`), 0o644)
	tidy := exec.Command("go", "mod", "tidy")
	tidy.Dir = dir
	if out, err := tidy.CombinedOutput(); err != nil {
		t.Fatalf("go mod tidy: %v\n%s", err, out)
	}
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
