package initramfs

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestCpioReadsBack checks the archive with cpio(1) when it is installed.
func TestCpioReadsBack(t *testing.T) {
	var b bytes.Buffer
	w := NewWriter(&b)
	w.File("/init", 0o755, []byte("#!/bin/true\n"))
	w.File("lib/modules/6.1/kernel/net/x.ko", 0o644, []byte("odd length"))
	w.Symlink("/sbin/modprobe", "/init")
	w.CharDev("/dev/console", 5, 1)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if b.Len()%4 != 0 || !bytes.HasPrefix(b.Bytes(), []byte("070701")) || !bytes.Contains(b.Bytes(), []byte("TRAILER!!!")) {
		t.Fatalf("not a newc archive")
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-idm", "--no-absolute-filenames")
	cmd.Dir = dir
	cmd.Stdin = &b
	if out, err := cmd.CombinedOutput(); err != nil && os.Geteuid() == 0 {
		t.Fatalf("cpio: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "lib/modules/6.1/kernel/net/x.ko"))
	if err != nil || string(got) != "odd length" {
		t.Errorf("file content %q %v", got, err)
	}
	if l, _ := os.Readlink(filepath.Join(dir, "sbin/modprobe")); l != "/init" {
		t.Errorf("symlink %q", l)
	}
}
