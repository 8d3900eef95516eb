package reports

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/vtest-dev/vtest/scenario"
)

// WriteDOT writes a scenario's topology as a Graphviz graph: nodes shaped by
// kind and listing their declared interfaces (bridges, VLANs, tunnels…),
// one edge per link labelled with its interfaces and the addresses they
// will have, and dashed edges for the other relations between nodes (a
// macvlan on another node's interface, a WireGuard tunnel).
func WriteDOT(w io.Writer, l *scenario.Layout) error {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %q {\n  label=%q;\n", l.Name, l.Description)
	shapes := map[string]string{"host": "box", "router": "ellipse", "switch": "diamond"}
	for _, n := range l.Nodes {
		fmt.Fprintf(&b, "  %q [shape=%s, label=%q];\n", n.Name, shapes[n.Kind], strings.Join(nodeLines(n), "\n"))
	}
	for _, k := range l.Links {
		a, z := splitEnd(k.A), splitEnd(k.B)
		fmt.Fprintf(&b, "  %q -- %q [label=%q];\n", a[0], z[0], linkLabel(l, k))
	}
	for _, r := range l.Relations {
		fmt.Fprintf(&b, "  %q -- %q [style=dashed, label=%q];\n", r.A, r.B, r.Label)
	}
	b.WriteString("}\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteMermaid writes a scenario's topology as a Mermaid flowchart.
func WriteMermaid(w io.Writer, l *scenario.Layout) error {
	var b strings.Builder
	b.WriteString("flowchart LR\n")
	id := map[string]string{}
	for i, n := range l.Nodes {
		id[n.Name] = fmt.Sprintf("n%d", i)
		open, closing := "[", "]"
		switch n.Kind {
		case "router":
			open, closing = "((", "))"
		case "switch":
			open, closing = "{", "}"
		}
		fmt.Fprintf(&b, "  %s%s\"%s\"%s\n", id[n.Name], open, mermaidText(strings.Join(nodeLines(n), "<br>")), closing)
	}
	for _, k := range l.Links {
		a, z := splitEnd(k.A), splitEnd(k.B)
		fmt.Fprintf(&b, "  %s ---|\"%s\"| %s\n", id[a[0]], mermaidText(linkLabel(l, k)), id[z[0]])
	}
	for _, r := range l.Relations {
		fmt.Fprintf(&b, "  %s -.-|\"%s\"| %s\n", id[r.A], mermaidText(r.Label), id[r.B])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteGraphJSON writes the topology as JSON: nodes with their interfaces
// and allocated addresses, routes, links.
func WriteGraphJSON(w io.Writer, l *scenario.Layout) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(l)
}

func mermaidText(s string) string { return strings.ReplaceAll(s, "\"", "'") }

// nodeLines is a node's label: name and kind, then what it does.
func nodeLines(n scenario.LayoutNode) []string {
	lines := []string{fmt.Sprintf("%s (%s)", n.Name, n.Kind)}
	if len(n.BridgeAddrs) > 0 {
		lines = append(lines, n.Bridge+" "+strings.Join(n.BridgeAddrs, " "))
	}
	for _, i := range n.Interfaces {
		if i.Detail != "" {
			line := i.Name + ": " + i.Detail
			if i.MTU != 0 {
				line += fmt.Sprintf(" mtu %d", i.MTU)
			}
			lines = append(lines, line)
		}
	}
	if n.Masquerade != "" {
		lines = append(lines, "NAT out "+n.Masquerade)
	}
	lines = append(lines, n.NAT...)
	if len(n.Firewall) > 0 {
		lines = append(lines, fmt.Sprintf("firewall: %d rule(s)", len(n.Firewall)))
	}
	if n.PolicyRules > 0 {
		lines = append(lines, fmt.Sprintf("policy rules: %d", n.PolicyRules))
	}
	for _, r := range n.Routes {
		lines = append(lines, r.String())
	}
	return lines
}

// linkLabel names both ends of a link with their addresses.
func linkLabel(l *scenario.Layout, k scenario.LayoutLink) string {
	label := endLabel(l, k.A) + " — " + endLabel(l, k.B)
	if k.Delay != "" {
		label += " delay " + k.Delay
	}
	if k.MTU != 0 {
		label += fmt.Sprintf(" mtu %d", k.MTU)
	}
	for _, im := range k.Impairments {
		label += " [" + im + "]"
	}
	return label
}

func endLabel(l *scenario.Layout, end string) string {
	e := splitEnd(end)
	for _, n := range l.Nodes {
		if n.Name != e[0] {
			continue
		}
		for _, i := range n.Interfaces {
			if i.Name == e[1] && len(i.Addrs) > 0 {
				return e[1] + " " + strings.Join(i.Addrs, ",")
			}
		}
	}
	return e[1]
}

func splitEnd(end string) [2]string {
	i := strings.LastIndex(end, ":")
	if i < 0 {
		return [2]string{end, ""}
	}
	return [2]string{end[:i], end[i+1:]}
}
