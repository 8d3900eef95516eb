// Package vm runs a vtest suite as /init of a QEMU virtual machine on a
// chosen kernel: the guest side (PID 1 setup, a modprobe for the kernel's
// on-demand module requests, the report on a serial port, power-off) and
// the host side (initramfs, QEMU, reading the report back).
package vm

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The report the guest writes on its second serial port, one item a line:
//
//	VTEST-REPORT v1
//	console <base64 of the suite's console output>
//	junit <base64 of the JUnit report>
//	result exit=<code> sha256=<hex of the JUnit report> kernel=<release>
//	VTEST-END
//
// A report without its result and end lines, or whose JUnit does not match
// its hash, is truncated: an infrastructure error.
const (
	reportBegin = "VTEST-REPORT v1"
	reportEnd   = "VTEST-END"
)

// IsGuest reports whether this process is the init of a VM (PID 1).
func IsGuest() bool { return os.Getpid() == 1 }

// IsModprobe reports whether the binary runs as the kernel's modprobe
// (/sbin/modprobe is a link to /init in the initramfs).
func IsModprobe() bool { return path.Base(os.Args[0]) == "modprobe" }

// GuestMain is init: it mounts what the suite needs, runs it with the
// arguments the host put on the kernel command line, writes the report to
// /dev/ttyS1 and powers off. It never returns; a panic or the watchdog
// also power off, so the host never waits for a guest that hangs.
func GuestMain(run func(args []string, stdout, stderr io.Writer) int) {
	defer powerOff()
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(os.Stderr, "vtest init: panic: %v\n", r)
		}
	}()
	for _, m := range []struct{ src, dst, fs string }{
		{"proc", "/proc", "proc"}, {"sysfs", "/sys", "sysfs"}, {"devtmpfs", "/dev", "devtmpfs"},
		{"tmpfs", "/tmp", "tmpfs"}, {"tmpfs", "/run", "tmpfs"},
	} {
		os.MkdirAll(m.dst, 0o755)
		if err := unix.Mount(m.src, m.dst, m.fs, 0, ""); err != nil && !errors.Is(err, unix.EBUSY) {
			fmt.Fprintf(os.Stderr, "vtest init: mount %s: %v\n", m.dst, err)
		}
	}
	cmdline, _ := os.ReadFile("/proc/cmdline")
	params := parseCmdline(string(cmdline))
	timeout := 10 * time.Minute
	if d, err := time.ParseDuration(params["vtest.timeout"]); err == nil {
		timeout = d
	}
	go func() {
		time.Sleep(timeout) // the watchdog: a deadline, not a readiness wait
		fmt.Fprintf(os.Stderr, "vtest init: watchdog: no result after %v, powering off\n", timeout)
		powerOff()
	}()
	report, err := openReport("/dev/ttyS1")
	if err != nil {
		fmt.Fprintf(os.Stderr, "vtest init: %v\n", err)
		return
	}
	defer report.Close()
	release := kernelRelease()
	if _, ok := params["vtest.probe"]; ok {
		fmt.Fprintf(report, "%s\nresult exit=0 sha256=%x kernel=%s\n%s\n", reportBegin, sha256.Sum256(nil), release, reportEnd)
		return
	}
	var args []string
	if enc := params["vtest.args"]; enc != "" {
		b, err := base64.RawURLEncoding.DecodeString(enc)
		if err != nil {
			fmt.Fprintf(os.Stderr, "vtest init: bad vtest.args: %v\n", err)
			return
		}
		if len(b) > 0 {
			args = strings.Split(string(b), "\x00")
		}
	}
	const junit = "/tmp/vtest-report.xml"
	var console bytes.Buffer
	out := io.MultiWriter(os.Stdout, &console)
	code := run(append(args, "-junit", junit, "-color", "never"), out, out)
	x, _ := os.ReadFile(junit)
	w := bufio.NewWriter(report)
	fmt.Fprintln(w, reportBegin)
	fmt.Fprintf(w, "console %s\n", base64.StdEncoding.EncodeToString(console.Bytes()))
	fmt.Fprintf(w, "junit %s\n", base64.StdEncoding.EncodeToString(x))
	fmt.Fprintf(w, "result exit=%d sha256=%x kernel=%s\n", code, sha256.Sum256(x), release)
	fmt.Fprintln(w, reportEnd)
	w.Flush()
	unix.IoctlSetInt(int(report.Fd()), unix.TCSBRK, 1) // drain
}

func parseCmdline(s string) map[string]string {
	out := map[string]string{}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		out[k] = v
	}
	return out
}

// openReport opens the report serial port in raw mode, so that "\n" is not
// turned into "\r\n".
func openReport(dev string) (*os.File, error) {
	f, err := os.OpenFile(dev, os.O_WRONLY|unix.O_NOCTTY, 0)
	if err != nil {
		return nil, fmt.Errorf("open report port %s: %w", dev, err)
	}
	if t, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS); err == nil {
		t.Oflag &^= unix.OPOST
		unix.IoctlSetTermios(int(f.Fd()), unix.TCSETS, t)
	}
	return f, nil
}

func powerOff() {
	unix.Sync()
	unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
	select {} // PID 1 must never return
}

func kernelRelease() string {
	var u unix.Utsname
	unix.Uname(&u)
	return unix.ByteSliceToString(u.Release[:])
}

// Modprobe loads the module a kernel request names (an alias such as
// rtnl-link-veth or a module name), after its dependencies, from
// /lib/modules/<release>. It is what the kernel runs as /sbin/modprobe in
// the VM, and returns the exit code.
func Modprobe(args []string) int {
	name := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			name = a
		}
	}
	if name == "" {
		return 1
	}
	dir := filepath.Join("/lib/modules", kernelRelease())
	db, err := loadModDB(dir)
	if err != nil {
		fmt.Fprintf(os.Stderr, "vtest modprobe: %v\n", err)
		return 1
	}
	mods := db.resolve(name)
	if len(mods) == 0 {
		kmsg("<5>vtest modprobe: no module for " + name)
		return 1
	}
	// Like modprobe, try every module the name resolves to (crypto-crc32c
	// is both crc32c-intel, which needs SSE4.2, and crc32c_generic); one
	// loading is success.
	var errs []error
	for _, mod := range mods {
		if err := db.load(dir, mod, map[string]bool{}); err != nil {
			errs = append(errs, err)
			continue
		}
		kmsg(fmt.Sprintf("<5>vtest modprobe: %s -> %s", name, mod))
		return 0
	}
	kmsg(fmt.Sprintf("<3>vtest modprobe %s: %v", name, errors.Join(errs...)))
	return 1
}

// kmsg writes a line to the kernel log, where the console shows it: the
// kernel runs modprobe with no useful standard streams.
func kmsg(line string) {
	if f, err := os.OpenFile("/dev/kmsg", os.O_WRONLY, 0); err == nil {
		f.WriteString(line + "\n")
		f.Close()
	}
}

type modDB struct {
	deps    map[string][]string // module name -> dependency names
	file    map[string]string   // module name -> path relative to dir
	aliases [][2]string         // pattern, module name
	builtin map[string]bool
}

func modName(p string) string {
	b := path.Base(p)
	b = b[:strings.Index(b, ".ko")]
	return strings.ReplaceAll(b, "-", "_")
}

func loadModDB(dir string) (*modDB, error) {
	db := &modDB{deps: map[string][]string{}, file: map[string]string{}, builtin: map[string]bool{}}
	dep, err := os.ReadFile(filepath.Join(dir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	for _, line := range strings.Split(string(dep), "\n") {
		file, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name := modName(file)
		db.file[name] = file
		for _, d := range strings.Fields(rest) {
			db.deps[name] = append(db.deps[name], modName(d))
		}
	}
	if al, err := os.ReadFile(filepath.Join(dir, "modules.alias")); err == nil {
		for _, line := range strings.Split(string(al), "\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[0] == "alias" {
				db.aliases = append(db.aliases, [2]string{f[1], strings.ReplaceAll(f[2], "-", "_")})
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(dir, "modules.builtin")); err == nil {
		for _, line := range strings.Fields(string(b)) {
			db.builtin[modName(line)] = true
		}
	}
	return db, nil
}

// resolve returns the modules a name stands for: the module of that name,
// or every module with a matching alias.
func (db *modDB) resolve(name string) []string {
	n := strings.ReplaceAll(name, "-", "_")
	if _, ok := db.file[n]; ok {
		return []string{n}
	}
	var out []string
	for _, a := range db.aliases {
		if ok, _ := path.Match(a[0], name); ok && !slices.Contains(out, a[1]) {
			out = append(out, a[1])
		}
	}
	return out
}

// load loads a module after its dependencies; modules already loaded or
// built in are fine.
func (db *modDB) load(dir, name string, seen map[string]bool) error {
	if seen[name] || db.builtin[name] {
		return nil
	}
	seen[name] = true
	for _, d := range db.deps[name] {
		if err := db.load(dir, d, seen); err != nil {
			return err
		}
	}
	file, ok := db.file[name]
	if !ok {
		return fmt.Errorf("module %s is not in modules.dep", name)
	}
	f, err := os.Open(filepath.Join(dir, file))
	if err != nil {
		return err
	}
	defer f.Close()
	flags := 0
	if !strings.HasSuffix(file, ".ko") {
		flags = unix.MODULE_INIT_COMPRESSED_FILE // .ko.xz, .ko.zst: the kernel decompresses
	}
	if err := unix.FinitModule(int(f.Fd()), "", flags); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("load %s: %w", file, err)
	}
	return nil
}
