package scenario

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"
)

// Cmd is a process run inside a node, for example a daemon under test. Its
// standard output and error are captured. A started Cmd is killed when the
// network is closed, and dies with the vtest process: it gets SIGKILL as
// parent-death signal from a thread that lives until teardown, and what
// it leaves behind (a daemon that called setsid) is killed by the process
// guard if vtest dies without a teardown (see Node.Do). It sees the
// node's private files (see NodeSpec.PrivateDir): a tmpfs /run, an
// /etc/hosts with the scenario's names, and the node's private
// directories.
type Cmd struct {
	// Path and Args are as in exec.Cmd; Args[0] is the command name.
	Path string
	Args []string
	// Env is the environment; nil means the vtest process's environment.
	// vtest adds VTEST_OWNER (its pid) and VTEST_NODE (the node's name).
	Env []string
	// Dir is the working directory; "" means the current one.
	Dir string
	// Stdin is the standard input; nil means /dev/null.
	Stdin io.Reader

	node *Node
	out  lockedBuffer
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Command returns a Cmd that runs name with args inside the node. The name
// is looked up in PATH like exec.Command does.
func (nd *Node) Command(name string, arg ...string) *Cmd {
	path := name
	if lp, err := exec.LookPath(name); err == nil {
		path = lp
	}
	return &Cmd{Path: path, Args: append([]string{name}, arg...), node: nd}
}

// Start starts the process inside the node's namespace.
func (c *Cmd) Start() error {
	if c.cmd != nil {
		return errors.New("vtest: Cmd already started")
	}
	nd := c.node
	nd.mu.Lock()
	defer nd.mu.Unlock()
	if nd.closed {
		return fmt.Errorf("node %q: network is closed", nd.name)
	}
	// The process, and whatever it forks, lives in the namespace:
	// teardown looks for them there.
	if err := nd.markForeign(); err != nil {
		return err
	}
	if err := nd.processThread(); err != nil {
		return err
	}
	env := c.Env
	if env == nil {
		env = os.Environ()
	}
	// Marks the process as vtest's, for leak checks and for the user.
	env = append(env[:len(env):len(env)], fmt.Sprintf("VTEST_OWNER=%d", os.Getpid()), "VTEST_NODE="+nd.name)
	cmd := &exec.Cmd{Path: c.Path, Args: c.Args, Env: env, Dir: c.Dir, Stdin: c.Stdin, Stdout: &c.out, Stderr: &c.out}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := nd.thread.Do(cmd.Start); err != nil {
		return fmt.Errorf("node %q: start %s: %w", nd.name, c.Path, err)
	}
	c.cmd = cmd
	c.done = make(chan struct{})
	go func() {
		c.err = cmd.Wait()
		close(c.done)
	}()
	nd.cmds = append(nd.cmds, c)
	return nil
}

// Wait waits for the process to exit and returns its error, like exec.Cmd.
func (c *Cmd) Wait() error {
	if c.cmd == nil {
		return errors.New("vtest: Cmd not started")
	}
	<-c.done
	return c.err
}

// Run starts the process and waits for it.
func (c *Cmd) Run() error {
	if err := c.Start(); err != nil {
		return err
	}
	return c.Wait()
}

// Output returns the standard output and error captured so far.
func (c *Cmd) Output() string { return c.out.String() }

// Process returns the underlying process once started.
func (c *Cmd) Process() *os.Process {
	if c.cmd == nil {
		return nil
	}
	return c.cmd.Process
}

// Stop kills the process and its process group and waits for it.
func (c *Cmd) Stop() error {
	if c.cmd == nil {
		return nil
	}
	c.kill()
	return nil
}

func (c *Cmd) kill() {
	if c.cmd == nil {
		return
	}
	select {
	case <-c.done:
		return
	default:
	}
	_ = syscall.Kill(-c.cmd.Process.Pid, syscall.SIGKILL)
	_ = c.cmd.Process.Kill()
	select {
	case <-c.done:
	case <-time.After(5 * time.Second):
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
