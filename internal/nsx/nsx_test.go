package nsx

import (
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/vishvananda/netns"
)

// TestMainThreadStaysHome: however goroutines are scheduled, namespace work
// never leaves the main thread (which Go never terminates) in a foreign
// namespace, where it would pin that namespace until the process exits.
func TestMainThreadStaysHome(t *testing.T) {
	if os.Geteuid() != 0 || testing.Short() {
		t.Skip("needs root")
	}
	host, err := Host()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 300 {
		wg.Go(func() {
			ns, err := New(func() error { return nil })
			if err != nil {
				t.Error(err)
				return
			}
			defer ns.Close()
			if err := Do(ns, func() error { return nil }); err != nil {
				t.Error(err)
			}
			th, err := NewThread(ns)
			if err != nil {
				t.Error(err)
				return
			}
			th.Do(func() error { return nil })
			th.Close()
		})
	}
	wg.Wait()
	pid := os.Getpid()
	main, err := netns.GetFromPath(fmt.Sprintf("/proc/%d/task/%d/ns/net", pid, pid))
	if err != nil {
		t.Fatal(err)
	}
	defer main.Close()
	if !main.Equal(host) {
		t.Fatalf("the main thread is in namespace %s, not the host's %s", main, host)
	}
}
