// Package inside lets vtest's own packages (assert, capture, the built-in
// scenarios) run code inside a node's namespace, and read its namespace
// descriptor, without marking the node as one where foreign code ran.
//
// Teardown looks for processes to kill only in the namespaces of nodes
// where foreign code could have started one: a user's Node.Do, a process
// started in the node (Cmd, StartProcess), or a namespace descriptor handed
// out by Node.NamespaceFd. vtest's own code in a node only opens sockets and
// reads or writes sysctls, never starts a process, so it goes through here
// and spares teardown a scan of /proc.
//
// Each of them first readies the node for use: when the scenario
// pre-installs its neighbours (Spec.PreinstallNeighbours), a node gets its
// entries before its first use. Use does only that, for a node that a
// check's packets claim to come from without the check running there (a
// crafted frame's source address).
//
// The node is a *scenario.Node; package scenario registers the functions
// (an import of scenario from here would be a cycle).
package inside

var (
	do       func(node any, fn func() error) error
	fd       func(node any) int
	openPing func(node any) error
	use      func(node any) error
)

// Register is called once, by package scenario's initialisation, with its
// Node's unmarked Do, namespace descriptor, opening of ping sockets and
// readying for use.
func Register(doFn func(node any, fn func() error) error, fdFn func(node any) int, openPingFn, useFn func(node any) error) {
	do, fd, openPing, use = doFn, fdFn, openPingFn, useFn
}

// Use readies node for use (see the package's doc) without acting in it.
func Use(node any) error { return use(node) }

// OpenPing lets every group open ICMP datagram ("ping") sockets in node
// (net.ipv4.ping_group_range), once: call it before opening one.
func OpenPing(node any) error { return openPing(node) }

// Do runs fn on an OS thread inside node's namespace, like Node.Do, without
// marking the node. fn must not start a process.
func Do(node any, fn func() error) error { return do(node, fn) }

// NamespaceFd returns node's namespace descriptor, like Node.NamespaceFd,
// without marking the node. The caller must not hand it to code that could
// start a process in the namespace.
func NamespaceFd(node any) int { return fd(node) }
