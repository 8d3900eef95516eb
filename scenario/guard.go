package scenario

import (
	"fmt"

	"github.com/vtest-dev/vtest/internal/nsguard"
)

// A binary that can start processes in a node is also its own process
// guard (see markForeign): started as one, it runs the guard and exits
// here, before any test or suite code.
func init() { nsguard.Main() }

// markForeign marks the node as one where code other than vtest's own may
// run (Do, a process, NamespaceFd), the first time: teardown then kills
// the processes of its namespace, and the namespace is handed to the
// process guard, which kills them if this process dies before its
// teardown (SIGKILL): also daemons that left their parent.
func (nd *Node) markForeign() error {
	nd.guardMu.Lock()
	defer nd.guardMu.Unlock()
	nd.foreign.Store(true)
	if nd.guard == nil {
		w, err := nsguard.Add(nd.ns)
		if err != nil {
			return fmt.Errorf("node %q: processes started here could outlive a killed vtest: %w", nd.name, err)
		}
		nd.guard = w
	}
	// Foreign code may ping (a ping binary, x/net/icmp) and send to any
	// neighbour: as if every node had both from the start.
	if err := nd.useNeighbours(); err != nil {
		return err
	}
	return nd.openPing()
}

// releaseGuard tells the guard that teardown killed the node's processes.
func (nd *Node) releaseGuard() {
	nd.guardMu.Lock()
	defer nd.guardMu.Unlock()
	nd.guard.Release()
	nd.guard = nil
}
