package hostcheck

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"testing"
)

// LocalUser is a throwaway local account made for a test: the user behind
// sudo, or another user of the machine attacking vtest. It is removed,
// with its home and its processes, when the test ends.
type LocalUser struct {
	Name     string
	UID, GID int
	Home     string
	Groups   []uint32
}

// NewLocalUser creates a local account for the test (useradd, with a home
// of its own) in the supplementary groups given. It skips the test where
// accounts cannot be made: not root, no useradd, or -short.
func NewLocalUser(t testing.TB, role string, groups ...string) *LocalUser {
	t.Helper()
	RequireRoot(t)
	for _, tool := range []string{"useradd", "userdel"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: cannot make a second local user", tool)
		}
	}
	name := fmt.Sprintf("vt%.8s%d", role, os.Getpid()%100000)
	args := []string{"--create-home", "--shell", "/bin/sh"}
	if len(groups) > 0 {
		g := groups[0]
		for _, x := range groups[1:] {
			g += "," + x
		}
		args = append(args, "--groups", g)
	}
	if out, err := exec.Command("useradd", append(args, name)...).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() {
		exec.Command("pkill", "-KILL", "-u", name).Run()
		if out, err := exec.Command("userdel", "--remove", name).CombinedOutput(); err != nil {
			t.Errorf("userdel %s: %v: %s", name, err, out)
		}
	})
	pw, err := user.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	u := &LocalUser{Name: name, Home: pw.HomeDir}
	u.UID, _ = strconv.Atoi(pw.Uid)
	u.GID, _ = strconv.Atoi(pw.Gid)
	ids, err := pw.GroupIds()
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		g, _ := strconv.ParseUint(id, 10, 32)
		u.Groups = append(u.Groups, uint32(g))
	}
	return u
}

// Command returns a command that runs as u (its user, group and
// supplementary groups), with u's HOME.
func (u *LocalUser) Command(name string, arg ...string) *exec.Cmd {
	cmd := exec.Command(name, arg...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: u.Groups}}
	cmd.Env = []string{"HOME=" + u.Home, "USER=" + u.Name, "LOGNAME=" + u.Name, "PATH=/usr/local/bin:/usr/bin:/bin"}
	cmd.Dir = u.Home
	return cmd
}

// Run runs a command as u and fails the test if it fails.
func (u *LocalUser) Run(t testing.TB, name string, arg ...string) {
	t.Helper()
	if out, err := u.Command(name, arg...).CombinedOutput(); err != nil {
		t.Fatalf("as %s: %s %v: %v: %s", u.Name, name, arg, err, out)
	}
}

// BehindSudo makes the test process (root) look as if u ran it through
// sudo, as vtest tells: SUDO_UID, SUDO_GID and SUDO_USER, until the test
// ends.
func (u *LocalUser) BehindSudo(t *testing.T) {
	t.Setenv("SUDO_UID", strconv.Itoa(u.UID))
	t.Setenv("SUDO_GID", strconv.Itoa(u.GID))
	t.Setenv("SUDO_USER", u.Name)
}
