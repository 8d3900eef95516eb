package scenario

import "golang.org/x/sys/unix"

// ForeignNodes returns the names of the nodes where foreign code may have
// run (Node.Do, a process, Node.NamespaceFd): the namespaces teardown scans
// /proc for.
func ForeignNodes(n *Network) []string {
	var names []string
	for _, nd := range n.order {
		if nd.foreign.Load() {
			names = append(names, nd.name)
		}
	}
	return names
}

// KernelNeighbours reads the node's neighbour table of a family (ARP or
// NDP) as the kernel has it, without readying the node for use as
// Node.Netlink does (see PreinstallNeighbours): the IP of each entry, and
// whether it is PERMANENT.
func KernelNeighbours(nd *Node, family int) (map[string]bool, error) {
	entries, err := nd.nl.NeighList(0, family)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, e := range entries {
		if e.IP.IsMulticast() || e.IP.IsLinkLocalUnicast() {
			continue
		}
		out[e.IP.String()] = e.State == unix.NUD_PERMANENT
	}
	return out, nil
}

// WitnessFd returns the node's namespace descriptor for a benchmark's
// witness of the namespace's end: unlike inside.NamespaceFd, it does not
// ready the node for use (see PreinstallNeighbours), so the figures are
// those of a run without a witness.
func WitnessFd(nd *Node) int { return int(nd.ns) }
