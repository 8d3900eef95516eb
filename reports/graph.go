package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/vtest-dev/vtest/scenario"
)

// WriteDOT writes a scenario's topology as a Graphviz graph: nodes shaped by
// kind and listing their declared interfaces (bridges, VLANs, tunnels…),
// one edge per link labelled with its interfaces and addresses, and dashed
// edges for what crosses nodes otherwise: a macvlan or ipvlan on another
// node's interface, a WireGuard tunnel.
func WriteDOT(w io.Writer, s *scenario.Spec) error {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %q {\n  label=%q;\n", s.Name, s.Description)
	shapes := map[scenario.Kind]string{scenario.KindHost: "box", scenario.KindRouter: "ellipse", scenario.KindSwitch: "diamond"}
	for _, n := range s.Nodes() {
		label := n.Name()
		if out, ok := n.MasqueradeInterface(); ok {
			label += "\\nNAT out " + out
		}
		for _, i := range n.Ifaces() {
			label += "\\n" + strings.ReplaceAll(i.Name()+": "+i.Describe(), `"`, `'`)
		}
		fmt.Fprintf(&b, "  %q [shape=%s, label=\"%s\\n(%s)\"];\n", n.Name(), shapes[n.Kind()], label, n.Kind())
	}
	for _, l := range s.Links() {
		a, z := l.Ends()
		fmt.Fprintf(&b, "  %q -- %q [label=%q];\n", a.Node, z.Node, linkLabel(l))
	}
	for _, e := range crossEdges(s) {
		fmt.Fprintf(&b, "  %q -- %q [style=dashed, label=%q];\n", e.from, e.to, e.label)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMermaid writes a scenario's topology as a Mermaid flowchart.
func WriteMermaid(w io.Writer, s *scenario.Spec) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	id := map[string]string{}
	for i, n := range s.Nodes() {
		id[n.Name()] = fmt.Sprintf("n%d", i)
		open, closing := "[", "]"
		switch n.Kind() {
		case scenario.KindRouter:
			open, closing = "((", "))"
		case scenario.KindSwitch:
			open, closing = "{", "}"
		}
		label := fmt.Sprintf("%s (%s)", n.Name(), n.Kind())
		for _, i := range n.Ifaces() {
			label += "<br/>" + strings.ReplaceAll(i.Name()+": "+i.Describe(), `"`, "'")
		}
		fmt.Fprintf(&b, "  %s%s\"%s\"%s\n", id[n.Name()], open, label, closing)
	}
	for _, l := range s.Links() {
		a, z := l.Ends()
		fmt.Fprintf(&b, "  %s ---|\"%s\"| %s\n", id[a.Node], strings.ReplaceAll(linkLabel(l), "\"", "'"), id[z.Node])
	}
	for _, e := range crossEdges(s) {
		fmt.Fprintf(&b, "  %s -.-|\"%s\"| %s\n", id[e.from], e.label, id[e.to])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// edge is a dashed edge between two nodes.
type edge struct{ from, to, label string }

// crossEdges returns the relations between nodes that are not links: an
// interface built on another node's interface, and tunnel peers (each
// pair once).
func crossEdges(s *scenario.Spec) []edge {
	var out []edge
	seen := map[[2]string]bool{}
	for _, n := range s.Nodes() {
		for _, i := range n.Ifaces() {
			for _, r := range i.Related() {
				if node, iface, ok := strings.Cut(r, ":"); ok && node != n.Name() {
					out = append(out, edge{n.Name(), node, fmt.Sprintf("%s on %s:%s", i.Kind(), node, iface)})
				}
			}
			if p := i.Peer(); p != "" {
				node, _, _ := strings.Cut(p, ":")
				self := n.Name() + ":" + i.Name()
				if !seen[[2]string{p, self}] {
					seen[[2]string{self, p}] = true
					out = append(out, edge{n.Name(), node, fmt.Sprintf("%s %s — %s", i.Kind(), self, p)})
				}
			}
		}
	}
	return out
}

func linkLabel(l *scenario.LinkSpec) string {
	a, z := l.Ends()
	label := fmt.Sprintf("%s — %s", orAuto(a.Interface), orAuto(z.Interface))
	if subs := l.Subnets(); len(subs) > 0 {
		label += " " + strings.Join(subs, ",")
	}
	return label
}

func orAuto(s string) string {
	if s == "" {
		return "auto"
	}
	return s
}
