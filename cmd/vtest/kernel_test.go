package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/internal/misconfigured"
	"github.com/vtest-dev/vtest/reports"
)

// TestKernelInVM runs the built-in suite on the host kernel and, in a QEMU
// VM, on Debian's kernel, and compares: scenarios needing netem, 8021q,
// bridge VLAN filtering, ipvlan, bonding, VRF or WireGuard are skipped on a
// host kernel without them and pass in the VM, and nothing else changes. make kernel-check installs
// what it needs; without Debian's kernel the test is skipped.
func TestKernelInVM(t *testing.T) {
	hostcheck.RequireRoot(t)
	if os.Getenv("VTEST_KERNEL_TEST") == "" {
		t.Skip("boots a VM (about a minute under TCG): run it with make kernel-check")
	}
	kernels, _ := filepath.Glob("/boot/vmlinuz-*-amd64")
	if len(kernels) == 0 {
		t.Skip("Debian's kernel package is not installed and could not be (make kernel-check runs apt-get install linux-image-amd64)")
	}
	if !hasTool("qemu-system-x86_64") {
		t.Skip("qemu-system-x86 is not installed and could not be")
	}
	kernel := kernels[len(kernels)-1]
	dir := t.TempDir()
	hostXML, vmXML := filepath.Join(dir, "host.xml"), filepath.Join(dir, "vm.xml")
	host := vtest(t, ".", "run", "-junit", hostXML, builtin)
	if host.code != 0 {
		t.Fatalf("host run: exit %d\n%s", host.code, host.stdout)
	}
	start := time.Now()
	vmRun := vtest(t, ".", "kernel", "--kernel", kernel, "--timeout", "4m", "--junit", vmXML, builtin)
	took := time.Since(start)
	t.Logf("vtest kernel %s: %v\n%s", filepath.Base(kernel), took, vmRun.stdout)
	vmRun.must(t, 0, "PASS netem-delay", "PASS lossy-link", "PASS impaired-link", "PASS ecmp",
		"PASS policy-routing", "PASS firewall", "PASS port-forward",
		"PASS vlan-trunk", "PASS bridge-vlan", "PASS ipvlan", "PASS bond-failover",
		"PASS vrf", "PASS wireguard", "PASS macvlan", "PASS vxlan-overlay", "under QEMU")
	if took > 5*time.Minute {
		t.Errorf("the VM run took %v, over 5 minutes", took)
	}
	for _, name := range []string{"netem-delay", "vlan-trunk", "lossy-link"} {
		if hostSkips := strings.Contains(host.stdout, "SKIP "+name); !hostSkips {
			t.Logf("the host kernel has what %s needs; it ran there", name)
		}
	}
	a, _ := os.Open(hostXML)
	b, _ := os.Open(vmXML)
	defer a.Close()
	defer b.Close()
	changes, err := reports.Diff(a, b)
	if err != nil {
		t.Fatal(err)
	}
	inconclusive := inconclusiveChecks(t, vmXML)
	for _, c := range changes {
		if c.Regression() {
			t.Errorf("regression on %s: %+v", filepath.Base(kernel), c)
		} else if c.Kind() == "run→skip" && inconclusive[[2]string{c.Scenario, c.Check}] {
			// An emulated CPU is a busy machine: a timing bound it cannot
			// decide is inconclusive (a skip with the reason), never a fail.
			t.Logf("inconclusive in the VM (TCG is slow): %s / %s", c.Scenario, c.Check)
		} else if c.Kind() != "skip→run" || c.New.Status() != "pass" {
			t.Errorf("host→VM change other than SKIP→PASS on %s: %s %+v", filepath.Base(kernel), c.Kind(), c)
		}
	}
	d := vtest(t, ".", "diff", hostXML, vmXML)
	d.must(t, 0)
	if strings.Contains(host.stdout, "SKIP netem-delay") && !strings.Contains(d.stdout, "skip→run    netem-delay") {
		t.Errorf("diff does not show netem-delay going from skip to run:\n%s", d.stdout)
	}
	t.Logf("vtest diff host→VM:\n%s", d.stdout)

	// The misconfigured kind scenarios fail in the VM, each at the check
	// its mistake breaks: the checks that pass above can fail.
	badXML := filepath.Join(dir, "misconfigured.xml")
	bad := vtest(t, ".", "kernel", "--kernel", kernel, "--timeout", "4m", "--junit", badXML, "./testdata/misconfigured")
	if bad.code != 1 {
		t.Fatalf("misconfigured scenarios in the VM: exit %d, want 1\n%s%s", bad.code, bad.stdout, bad.stderr)
	}
	f, err := os.Open(badXML)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	results, err := reports.ReadResults(f)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range misconfigured.Cases() {
		for _, ch := range c.Spec.Checks() {
			want := "pass"
			if ch.Name == c.Fails {
				want = "fail"
			}
			if got := results[[2]string{c.Spec.Name, ch.Name}].Status(); got != want {
				t.Errorf("VM: %s / %s: %q, want %q", c.Spec.Name, ch.Name, got, want)
			}
		}
	}
}

func TestKernelUsage(t *testing.T) {
	vtest(t, ".", "kernel", builtin).must(t, 2, "--kernel is required")
	vtest(t, ".", "kernel", "--kernel", "/nonexistent").must(t, 2, "no PATH given")
	vtest(t, ".", "kernel", "--kernel", "/nonexistent", builtin).must(t, 2, "/nonexistent")
	vtest(t, ".", "kernel", "--kernel", "/nonexistent", "--accel", "xen", builtin).must(t, 2, "--accel must be kvm or tcg")
	vtest(t, ".", "kernel", "--kernel", "/nonexistent", "--smp", "0", builtin).must(t, 2, "--smp wants a number of CPUs")
	vtest(t, ".", "kernel", "-h").must(t, 0, "usage: vtest kernel")
	vtest(t, ".", "diff", "a.xml").must(t, 2, "usage: vtest diff")
}

// TestKernelWarningsAndCrashInVM runs, in a VM, two identical scenarios of
// which one writes a fake WARNING splat to /dev/kmsg, and then one whose
// check panics in a goroutine: the first passes with its kernel log in the
// report, the second fails with the excerpt, the third is a crash error
// with the panic message, and vtest kernel exits 1 (a failure, not an
// infrastructure error).
func TestKernelWarningsAndCrashInVM(t *testing.T) {
	hostcheck.RequireRoot(t)
	if os.Getenv("VTEST_KERNEL_TEST") == "" {
		t.Skip("boots a VM: run it with make kernel-check")
	}
	kernels, _ := filepath.Glob("/boot/vmlinuz-*-amd64")
	if len(kernels) == 0 || !hasTool("qemu-system-x86_64") {
		t.Skip("Debian's kernel or qemu-system-x86 is not installed and could not be")
	}
	junit := filepath.Join(t.TempDir(), "vm.xml")
	r := vtest(t, ".", "kernel", "--kernel", kernels[len(kernels)-1], "--timeout", "3m", "--junit", junit,
		"--smp", "2", "--append", "sysctl.net.ipv4.neigh.default.gc_thresh3=4321", // kmsg-cmdline checks them
		"-parallel", "1", "./testdata/kmsg")
	r.must(t, 1, "PASS kmsg-cmdline", "PASS kmsg-quiet", "FAIL kmsg-warn", "the kernel logged a warning while the scenario ran:",
		"WARNING: CPU: 0 PID: 1 at net/core/dev.c:10999 vtest_fake_warning", "FAIL kmsg-crash", "panic: vtest test: a goroutine panics in the VM")
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`type="KernelWarning"`, `message="[`, "vtest: an ordinary kernel log line", `type="Crash"`,
		`<skipped message="inconclusive: the kernel&#39;s neighbour table was full: it refused`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("VM report lacks %q:\n%s", want, b)
		}
	}
	if got := caseSet(t, b); !strings.Contains(strings.Join(got, ","), "kmsg-warn/kernel log") || strings.Contains(strings.Join(got, ","), "kmsg-quiet/kernel log") {
		t.Errorf("testcases %v: want a kernel log case for kmsg-warn only", got)
	}
}

// inconclusiveChecks returns the checks of a JUnit report that were skipped
// as inconclusive timing checks, by scenario and check.
func inconclusiveChecks(t *testing.T, path string) map[[2]string]bool {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Skipped *struct {
					Message string `xml:"message,attr"`
				} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	out := map[[2]string]bool{}
	for _, s := range doc.Suites {
		for _, c := range s.Cases {
			if c.Skipped != nil && strings.HasPrefix(c.Skipped.Message, "inconclusive") {
				out[[2]string{s.Name, c.Name}] = true
			}
		}
	}
	return out
}
