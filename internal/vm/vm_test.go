package vm

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func report(junit string, cut int) []byte {
	s := fmt.Sprintf("noise\r\n%s\nconsole %s\njunit %s\nresult exit=1 sha256=%x kernel=6.1.0\n%s\n",
		reportBegin, base64.StdEncoding.EncodeToString([]byte("PASS x\n")), base64.StdEncoding.EncodeToString([]byte(junit)),
		sha256.Sum256([]byte(junit)), reportEnd)
	if cut > 0 {
		s = s[:len(s)-cut]
	}
	return []byte(s)
}

func TestParseReport(t *testing.T) {
	var r Result
	if err := parseReport(report("<testsuites/>", 0), &r); err != nil {
		t.Fatal(err)
	}
	if r.Exit != 1 || r.Kernel != "6.1.0" || string(r.JUnit) != "<testsuites/>" || r.Console != "PASS x\n" {
		t.Errorf("%+v", r)
	}
	// Truncated anywhere, or tampered: never a result.
	for cut := 2; cut < 60; cut += 7 { // 1 would only drop the final newline
		if err := parseReport(report("<testsuites/>", cut), &Result{}); err == nil {
			t.Errorf("a report cut by %d bytes was accepted", cut)
		}
	}
	bad := []byte(strings.Replace(string(report("<testsuites/>", 0)), "sha256=", "sha256=00", 1))
	if err := parseReport(bad, &Result{}); err == nil || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("checksum mismatch: %v", err)
	}
	if err := parseReport([]byte("kernel noise only"), &Result{}); err == nil {
		t.Error("no report accepted")
	}
}

func TestModprobeResolvesEveryAlias(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(
		"kernel/arch/x86/crypto/crc32c-intel.ko:\nkernel/crypto/crc32c_generic.ko:\nkernel/net/veth.ko:\nkernel/net/8021q/8021q.ko: kernel/net/802/garp.ko kernel/net/llc/llc.ko\nkernel/net/802/garp.ko: kernel/net/llc/llc.ko\nkernel/net/llc/llc.ko:\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.alias"), []byte(
		"alias crypto-crc32c crc32c_intel\nalias crypto-crc32c crc32c_generic\nalias rtnl-link-veth veth\nalias rtnl-link-vlan 8021q\nalias net-sch-* nothing\n"), 0o644)
	db, err := loadModDB(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"crypto-crc32c": "crc32c_intel crc32c_generic", "rtnl-link-veth": "veth", "crc32c-intel": "crc32c_intel",
		"rtnl-link-vlan": "8021q", "net-sch-netem": "nothing", "unknown": "",
	} {
		if got := strings.Join(db.resolve(name), " "); got != want {
			t.Errorf("resolve(%s) = %q, want %q", name, got, want)
		}
	}
	if got := db.deps["8021q"]; strings.Join(got, " ") != "garp llc" {
		t.Errorf("deps of 8021q = %v", got)
	}
}

func TestMissingModules(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(
		"kernel/drivers/net/veth.ko.xz:\nkernel/net/8021q/8021q.ko: kernel/net/802/garp.ko\nkernel/net/802/garp.ko:\nkernel/sound/snd.ko:\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/net/bridge/bridge.ko\n"), 0o644)
	got, err := MissingModules(dir, "veth", "8021q", "bridge", "sch_netem", "snd")
	if err != nil {
		t.Fatal(err)
	}
	// sch_netem is not there; snd is, but not among what the guest gets.
	if strings.Join(got, " ") != "sch_netem snd" {
		t.Errorf("missing %q, want sch_netem snd", got)
	}
	if _, err := MissingModules(t.TempDir(), "veth"); err == nil {
		t.Error("a directory without modules.dep gave no error")
	}
}

func TestReleaseOfInstalledKernels(t *testing.T) {
	kernels, _ := filepath.Glob("/boot/vmlinuz-*")
	if len(kernels) == 0 {
		t.Skip("no kernel in /boot")
	}
	for _, k := range kernels {
		rel, err := Release(k)
		if err != nil {
			if os.IsPermission(err) {
				t.Skip(err)
			}
			t.Fatal(err)
		}
		if want := strings.TrimPrefix(filepath.Base(k), "vmlinuz-"); rel != want {
			t.Errorf("%s: release %q, want %q", k, rel, want)
		}
	}
}

func TestExtractVmlinux(t *testing.T) {
	kernels, _ := filepath.Glob("/boot/vmlinuz-*-amd64")
	if len(kernels) == 0 {
		t.Skip("no Debian kernel in /boot")
	}
	dir := t.TempDir()
	// Every installed one: Debian's 6.1 is xz-compressed, 6.12 zstd.
	extracted := 0
	for _, k := range kernels {
		v, err := extractVmlinux(k, dir)
		if err != nil {
			t.Logf("%s: cannot extract here: %v", k, err)
			continue
		}
		b, err := os.ReadFile(v)
		if err != nil || !hasPVHNote(b) {
			t.Fatalf("%s: no PVH note (%v)", v, err)
		}
		// Cached: the second call returns the same file.
		if v2, err := extractVmlinux(k, dir); err != nil || v2 != v {
			t.Errorf("cache: %s %v", v2, err)
		}
		extracted++
	}
	if extracted == 0 {
		t.Skip("no installed kernel can be extracted here")
	}
	if _, err := extractVmlinux("/proc/self/status", dir); err == nil {
		t.Error("extracted a kernel from a text file")
	}
}
