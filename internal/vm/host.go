package vm

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vtest-dev/vtest/internal/initramfs"
	"github.com/vtest-dev/vtest/scenario"
)

// ErrInfrastructure marks a run that produced no trustworthy result: QEMU
// failed, the guest panicked or hung, the initramfs did not unpack, or the
// report is missing or truncated. It is never a pass or a fail.
var ErrInfrastructure = errors.New("infrastructure error")

// Config describes one run of a suite in a VM.
type Config struct {
	Kernel  string        // bzImage (or vmlinux) to boot
	Modules string        // the kernel's modules directory; "" = /lib/modules/<release>
	Mem     string        // guest memory, e.g. "512M"
	Timeout time.Duration // for the whole run, boot included
	Suite   string        // the static suite binary, to become /init
	Args    []string      // arguments for the suite
	WorkDir string        // where the initramfs and logs go
	Accel   string        // "kvm", "tcg", or "" to probe
	SMP     int           // virtual CPUs; 0 = 1
	// Append is added to the kernel command line, e.g.
	// "sysctl.net.ipv4.neigh.default.gc_thresh3=4096" (the kernel applies
	// sysctl.* parameters itself, since Linux 5.8) or "slub_debug".
	Append []string
	// Cache is where extracted kernels are kept; "" disables extraction.
	Cache string
}

// Result is what the guest reported.
type Result struct {
	Console string // the suite's console output
	JUnit   []byte
	Exit    int // the suite's exit code
	Kernel  string
	Accel   string
	Boot    string // "PVH vmlinux" or "bzImage"
	Elapsed time.Duration
	Log     string // the kernel console log file
}

// Release reads the kernel release of a bzImage from its setup header, or
// of an uncompressed image from its "Linux version" banner.
func Release(kernel string) (string, error) {
	b, err := os.ReadFile(kernel)
	if err != nil {
		return "", err
	}
	if len(b) > 0x210 && string(b[0x202:0x206]) == "HdrS" {
		off := 0x200 + int(binary.LittleEndian.Uint16(b[0x20e:]))
		if off < len(b) {
			s := b[off:]
			if i := bytes.IndexAny(s, " \x00"); i > 0 {
				return string(s[:i]), nil
			}
		}
	}
	if i := bytes.Index(b, []byte("Linux version ")); i >= 0 {
		s := b[i+len("Linux version "):]
		if j := bytes.IndexAny(s, " \x00"); j > 0 {
			return string(s[:j]), nil
		}
	}
	return "", fmt.Errorf("%s: no kernel release found (not a Linux kernel image?)", kernel)
}

// moduleSeeds are the parts of the module tree a network suite may need
// besides the modules of scenario's features (featureModules); the
// initramfs gets them and everything they depend on.
var moduleSeeds = []string{
	"kernel/net/bridge/", "kernel/net/8021q/", "kernel/net/802/", "kernel/net/llc/", "kernel/net/ipv4/",
	"kernel/net/ipv6/", "kernel/net/netfilter/", "kernel/net/sched/", "kernel/net/core/", "kernel/net/packet/",
	"kernel/net/key/", "kernel/net/xfrm/", "kernel/net/unix/",
	"kernel/drivers/net/tun.", "kernel/drivers/net/geneve.", "kernel/drivers/net/ifb.",
	// Requested by alias at run time (e.g. libcrc32c asks for
	// crypto-crc32c), so modules.dep does not list them.
	"kernel/crypto/", "kernel/arch/x86/crypto/", "kernel/lib/",
}

// featureModules are the modules of every feature scenario can probe (the
// drivers of its link kinds: veth, vxlan, bonding, wireguard, …); each
// kind declares its own, so a new kind reaches the VM without a change
// here.
var featureModules = scenario.AllModules()

// packed reports whether the initramfs packs the module at file.
func packed(name, file string) bool {
	return slices.Contains(featureModules, name) || slices.ContainsFunc(moduleSeeds, func(seed string) bool { return strings.HasPrefix(file, seed) })
}

// MissingModules returns which of the named modules (as lsmod names them:
// veth, 8021q, sch_netem) the module tree at modDir neither builds in nor
// ships among the parts Initramfs packs for the guest: a suite needing one
// of them cannot run its scenarios on that kernel.
func MissingModules(modDir string, names ...string) ([]string, error) {
	db, err := loadModDB(modDir)
	if err != nil {
		return nil, err
	}
	var missing []string
	for _, name := range names {
		n := strings.ReplaceAll(name, "-", "_")
		if db.builtin[n] {
			continue
		}
		if file, ok := db.file[n]; !ok || !packed(n, file) {
			missing = append(missing, name)
		}
	}
	return missing, nil
}

// Initramfs writes the initramfs: the suite as /init, /sbin/modprobe as a
// link to it, /dev/console, and the network modules with their
// dependencies and the module index files.
func Initramfs(path, suite, modDir, release string) (modules int, err error) {
	bin, err := os.ReadFile(suite)
	if err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	w := initramfs.NewWriter(f)
	w.File("/init", 0o755, bin)
	w.Symlink("/sbin/modprobe", "/init")
	w.CharDev("/dev/console", 5, 1)
	for _, d := range []string{"/proc", "/sys", "/tmp", "/run", "/dev"} {
		w.Dir(d)
	}
	if modDir != "" {
		db, err := loadModDB(modDir)
		if err != nil {
			return 0, fmt.Errorf("modules of %s: %w", release, err)
		}
		want := map[string]bool{}
		var add func(string)
		add = func(name string) {
			if want[name] {
				return
			}
			want[name] = true
			for _, d := range db.deps[name] {
				add(d)
			}
		}
		for name, file := range db.file {
			if packed(name, file) {
				add(name)
			}
		}
		dst := "/lib/modules/" + release + "/"
		for _, name := range initramfs.Sorted(want) {
			b, err := os.ReadFile(filepath.Join(modDir, db.file[name]))
			if err != nil {
				return 0, err
			}
			w.File(dst+db.file[name], 0o644, b)
		}
		for _, idx := range []string{"modules.dep", "modules.alias", "modules.builtin"} {
			if b, err := os.ReadFile(filepath.Join(modDir, idx)); err == nil {
				w.File(dst+idx, 0o644, b)
			}
		}
		modules = len(want)
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return modules, f.Close()
}

// Run boots the kernel with the suite as init and returns its report. An
// error wraps ErrInfrastructure unless the configuration itself is wrong.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	release, err := Release(cfg.Kernel)
	if err != nil {
		return nil, err
	}
	modDir := cfg.Modules
	if modDir == "" {
		modDir = filepath.Join("/lib/modules", release)
		if _, err := os.Stat(filepath.Join(modDir, "modules.dep")); err != nil {
			modDir = "" // a kernel with everything built in
		}
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, errors.New("qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)")
	}
	initrd := filepath.Join(cfg.WorkDir, "initramfs.cpio")
	if _, err := Initramfs(initrd, cfg.Suite, modDir, release); err != nil {
		return nil, fmt.Errorf("initramfs: %w", err)
	}
	bootKind := "bzImage"
	if cfg.Cache != "" {
		// Booting the uncompressed kernel through its PVH entry skips the
		// decompressor, which takes seconds under TCG.
		if v, err := extractVmlinux(cfg.Kernel, cfg.Cache); err == nil {
			cfg.Kernel, bootKind = v, "PVH vmlinux"
		}
	}
	accel := cfg.Accel
	if accel == "" {
		accel = probeAccel(ctx, qemu, cfg, initrd)
	}
	res, err := boot(ctx, qemu, cfg, initrd, accel, false)
	if res != nil {
		res.Accel, res.Boot = accel, bootKind
	}
	return res, err
}

// probeAccel boots once with KVM and a probe-only init: /dev/kvm opening
// is not proof that KVM works (on nested setups guests can fail or hang).
func probeAccel(ctx context.Context, qemu string, cfg Config, initrd string) string {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return "tcg"
	}
	f.Close()
	probe := cfg
	probe.Timeout = 20 * time.Second
	if _, err := boot(ctx, qemu, probe, initrd, "kvm", true); err != nil {
		return "tcg"
	}
	return "kvm"
}

func boot(ctx context.Context, qemu string, cfg Config, initrd, accel string, probe bool) (*Result, error) {
	tag := accel
	if probe {
		tag += "-probe"
	}
	consoleLog := filepath.Join(cfg.WorkDir, "console-"+tag+".log")
	reportFile := filepath.Join(cfg.WorkDir, "report-"+tag+".txt")
	os.Remove(reportFile)
	appendLine := []string{"console=ttyS0", "quiet", "panic=-1", "vtest.timeout=" + cfg.Timeout.String()}
	if accel == "tcg" {
		// Under TCG the clocksource watchdog may find the TSC skewed
		// (the host is busy) and mark it unstable mid-run; the kernel
		// then live-patches the sched_clock static branch, and a vCPU
		// of multi-threaded TCG can run the half-patched code: an int3
		// Oops in sched_clock_cpu and a panic (6.12, make kernel-check).
		// Unstable from the start, nothing is patched later.
		appendLine = append(appendLine, "tsc=unstable")
	}
	appendLine = append(appendLine, cfg.Append...)
	if probe {
		appendLine = append(appendLine, "vtest.probe")
	} else if len(cfg.Args) > 0 {
		appendLine = append(appendLine, "vtest.args="+base64.RawURLEncoding.EncodeToString([]byte(strings.Join(cfg.Args, "\x00"))))
	}
	args := []string{"-accel", accel, "-m", cfg.Mem, "-nodefaults", "-no-reboot", "-display", "none",
		"-kernel", cfg.Kernel, "-initrd", initrd, "-append", strings.Join(appendLine, " "),
		"-chardev", "file,id=c0,path=" + consoleLog, "-serial", "chardev:c0",
		"-chardev", "file,id=c1,path=" + reportFile, "-serial", "chardev:c1"}
	if accel == "kvm" {
		args = append(args, "-cpu", "host")
	}
	if cfg.SMP > 1 {
		args = append(args, "-smp", strconv.Itoa(cfg.SMP))
	}
	// The guest's watchdog powers off at cfg.Timeout; the host allows a
	// little more, then kills QEMU.
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout+15*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(ctx, qemu, args...)
	out, qerr := cmd.CombinedOutput()
	res := &Result{Elapsed: time.Since(start), Log: consoleLog}
	console, _ := os.ReadFile(consoleLog)
	fail := func(why string) (*Result, error) {
		return res, fmt.Errorf("%w: %s (qemu: %v %s); console log %s ends:\n%s", ErrInfrastructure, why, qerr,
			strings.TrimSpace(string(out)), consoleLog, tail(string(console), 15))
	}
	if ctx.Err() != nil {
		return fail(fmt.Sprintf("no result within %v", cfg.Timeout+15*time.Second))
	}
	for _, bad := range []string{"Initramfs unpacking failed", "Kernel panic", "No working init found"} {
		if bytes.Contains(console, []byte(bad)) {
			return fail(bad)
		}
	}
	report, err := os.ReadFile(reportFile)
	if err != nil {
		return fail("no report")
	}
	if err := parseReport(report, res); err != nil {
		return fail(err.Error())
	}
	return res, nil
}

func parseReport(b []byte, res *Result) error {
	i := bytes.Index(b, []byte(reportBegin+"\n"))
	if i < 0 {
		return errors.New("the report has no beginning")
	}
	var sum string
	ended := false
	for _, line := range strings.Split(string(b[i+len(reportBegin)+1:]), "\n") {
		key, val, _ := strings.Cut(strings.TrimRight(line, "\r"), " ")
		switch key {
		case "console", "junit":
			d, err := base64.StdEncoding.DecodeString(val)
			if err != nil {
				return fmt.Errorf("the report's %s is damaged: %v", key, err)
			}
			if key == "console" {
				res.Console = string(d)
			} else {
				res.JUnit = d
			}
		case "result":
			for _, kv := range strings.Fields(val) {
				k, v, _ := strings.Cut(kv, "=")
				switch k {
				case "exit":
					res.Exit, _ = strconv.Atoi(v)
				case "sha256":
					sum = v
				case "kernel":
					res.Kernel = v
				}
			}
		case reportEnd:
			ended = true
		}
		if ended {
			break
		}
	}
	if !ended || sum == "" {
		return errors.New("the report is truncated")
	}
	if fmt.Sprintf("%x", sha256.Sum256(res.JUnit)) != sum {
		return errors.New("the JUnit report does not match its checksum")
	}
	return nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
