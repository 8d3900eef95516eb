package scenario

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
