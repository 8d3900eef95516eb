package scenario_test

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/internal/hostcheck"
	"github.com/vtest-dev/vtest/scenario"
)

// mountNS returns the mount namespace link of a process ("mnt:[…]").
func mountNS(t *testing.T, pid int) string {
	t.Helper()
	l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/mnt")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPrivateFiles: two nodes write the same /run path and each of their
// processes reads its own; a PrivateDir over a host directory holds the
// node's file while the host's directory stays empty; /etc/hosts names
// the scenario's nodes and the host's is untouched; the host name is the
// node's. A write outside the private files is refused. After Close the
// nodes' mount namespaces are gone with their processes.
func TestPrivateFiles(t *testing.T) {
	hostcheck.RequireRoot(t)
	const dir = "/srv"
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		t.Skipf("%s is not a directory of this host", dir)
	}
	hostHosts, err := os.ReadFile("/etc/hosts")
	if err != nil {
		t.Fatal(err)
	}
	s := scenario.Define("private-files", "")
	s.Host("a").PrivateDir(dir).PrivateDir("/run/app").PrivateDir(dir + "/conf")
	s.Host("b")
	s.Link("a", "b").Subnet("10.7.0.0/24")
	s.Step("a writes", scenario.WriteFile("a", "/run/app/greeting", "hello from a\n"))
	s.Step("b writes", scenario.WriteFile("b", "/run/app/greeting", "hello from b\n"))
	s.Step("a configures", scenario.WriteFile("a", dir+"/conf/app.conf", "listen 10.7.0.1\n"))
	n := scenario.New(t, s)
	if err := n.Spec().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range n.Spec().Items() {
		if err := n.Apply(context.Background(), c.Action); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
	run := func(node string, argv ...string) string {
		t.Helper()
		c := n.Node(node).Command(argv[0], argv[1:]...)
		if err := c.Run(); err != nil {
			t.Fatalf("%s on %s: %v\n%s", argv, node, err, c.Output())
		}
		return c.Output()
	}
	if got := run("a", "cat", "/run/app/greeting"); got != "hello from a\n" {
		t.Errorf("a reads %q", got)
	}
	if got := run("b", "cat", "/run/app/greeting"); got != "hello from b\n" {
		t.Errorf("b reads %q", got)
	}
	if got := run("a", "cat", dir+"/conf/app.conf"); got != "listen 10.7.0.1\n" {
		t.Errorf("a's config: %q", got)
	}
	if _, err := os.Stat("/run/app/greeting"); err == nil {
		t.Errorf("the host sees /run/app/greeting")
	}
	if _, err := os.Stat(dir + "/conf"); err == nil {
		t.Errorf("the host sees %s/conf", dir)
	}
	if out := run("b", "ls", "-A", dir); out != "" {
		t.Errorf("b sees a's private %s: %q", dir, out)
	}
	hosts := run("a", "cat", "/etc/hosts")
	for _, w := range []string{"10.7.0.1\ta\n", "10.7.0.2\tb\n", "127.0.0.1\tlocalhost"} {
		if !strings.Contains(hosts, w) {
			t.Errorf("a's /etc/hosts lacks %q:\n%s", w, hosts)
		}
	}
	if got := run("b", "getent", "hosts", "a"); !strings.HasPrefix(got, "10.7.0.1") {
		t.Errorf("getent hosts a on b: %q", got)
	}
	if got := run("b", "hostname"); got != "b\n" {
		t.Errorf("b's host name: %q", got)
	}
	if b, err := n.Node("a").ReadFile("/run/app/greeting"); err != nil || string(b) != "hello from a\n" {
		t.Errorf("ReadFile: %q %v", b, err)
	}
	if err := n.Node("a").WriteFile("/etc/hosts", []byte("10.7.0.2 server\n"), 0o644); err != nil {
		t.Errorf("rewrite a's /etc/hosts: %v", err)
	} else if got := run("a", "getent", "hosts", "server"); !strings.HasPrefix(got, "10.7.0.2") {
		t.Errorf("a's own /etc/hosts: %q", got)
	}
	for _, p := range []string{"/etc/passwd", dir + "/../etc/x", "/run", "run/x", "/tmp/x"} {
		if err := n.Node("a").WriteFile(p, []byte("x"), 0o644); err == nil {
			t.Errorf("WriteFile %s passed", p)
		}
	}
	// A symbolic link planted in the private files is not followed.
	run("a", "ln", "-s", "/tmp", "/run/app/out")
	if err := n.Node("a").WriteFile("/run/app/out/escape", []byte("x"), 0o644); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("a write through a symlink: %v", err)
	}
	if _, err := os.Stat("/tmp/escape"); err == nil {
		t.Errorf("the write escaped to the host's /tmp")
	}
	if after, _ := os.ReadFile("/etc/hosts"); !bytes.Equal(after, hostHosts) {
		t.Errorf("the host's /etc/hosts changed")
	}

	sleep := n.Node("a").Command("sleep", "1000")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	mnt := mountNS(t, sleep.Process().Pid)
	if mnt == mountNS(t, os.Getpid()) {
		t.Fatalf("the process shares the host's mount namespace %s", mnt)
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil {
			continue
		}
		if l, err := os.Readlink("/proc/" + p.Name() + "/ns/mnt"); err == nil && l == mnt {
			t.Errorf("process %d still holds a's mount namespace %s after Close", pid, mnt)
		}
	}
}

// TestPrivateFilesValidate: PrivateDir and WriteFile refuse, before
// anything is built, paths that are not private or not clean.
func TestPrivateFilesValidate(t *testing.T) {
	for _, tc := range []struct {
		dir, write string
		want       string
	}{
		{dir: "etc/bird", want: `private directory "etc/bird": is not a clean absolute path`},
		{dir: "/etc/../etc/bird", want: "is not a clean absolute path"},
		{dir: "/", want: "would hide the whole file system"},
		{dir: "/run", want: "is private on every node already"},
		{dir: "/etc/hosts", want: "is a file, private on every node already"},
		{dir: "/proc/net", want: "is a kernel file system"},
		{dir: "/no/such/vtest/dir", want: "is not a directory of the host"},
		{write: "/etc/passwd", want: `file "/etc/passwd" is outside the node's private files`},
		{write: "/srv/x.conf", want: `file "/srv/x.conf" is outside the node's private files`},
		{write: "/run", want: "is outside the node's private files"},
		{write: "run/x", want: "is not a clean absolute path"},
	} {
		s := scenario.Define("private-validate", "")
		h := s.Host("a")
		if tc.dir != "" {
			h.PrivateDir(tc.dir)
		}
		s.Host("b")
		s.Link("a", "b")
		if tc.write != "" {
			s.Step("write", scenario.WriteFile("a", tc.write, "x"))
		}
		err := s.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %s", tc, err, tc.want)
		}
	}
	s := scenario.Define("private-ok", "")
	s.Host("a").PrivateDir("/run/bird").PrivateDir("/srv").PrivateDir("/srv/new/deeper")
	s.Host("b")
	s.Link("a", "b")
	s.Step("deeper", scenario.WriteFile("a", "/srv/new/deeper/x.conf", "x"))
	s.Step("hosts", scenario.WriteFile("a", "/etc/hosts", "x"))
	if err := s.Validate(); err != nil {
		t.Errorf("valid private files: %v", err)
	}
	s.Step("unknown node", scenario.WriteFile("c", "/run/x", "x"))
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `node "c" is not defined`) {
		t.Errorf("unknown node: %v", err)
	}
}
