package reports

import (
	"fmt"
	"io"
	"strings"

	"github.com/vtest-dev/vtest/scenario"
)

// WriteDOT writes a scenario's topology as a Graphviz graph: nodes shaped by
// kind, one edge per link labelled with its interfaces and addresses.
func WriteDOT(w io.Writer, s *scenario.Spec) error {
	var b strings.Builder
	fmt.Fprintf(&b, "graph %q {\n  label=%q;\n", s.Name, s.Description)
	shapes := map[scenario.Kind]string{scenario.KindHost: "box", scenario.KindRouter: "ellipse", scenario.KindSwitch: "diamond"}
	for _, n := range s.Nodes() {
		label := n.Name()
		if out, ok := n.MasqueradeInterface(); ok {
			label += "\\nNAT out " + out
		}
		label += l3Label(n)
		fmt.Fprintf(&b, "  %q [shape=%s, label=\"%s\\n(%s)\"];\n", n.Name(), shapes[n.Kind()], label, n.Kind())
	}
	for _, l := range s.Links() {
		a, z := l.Ends()
		fmt.Fprintf(&b, "  %q -- %q [label=%q];\n", a.Node, z.Node, linkLabel(l))
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
		fmt.Fprintf(&b, "  %s%s\"%s (%s)\"%s\n", id[n.Name()], open, n.Name(), n.Kind(), closing)
	}
	for _, l := range s.Links() {
		a, z := l.Ends()
		fmt.Fprintf(&b, "  %s ---|\"%s\"| %s\n", id[a.Node], strings.ReplaceAll(linkLabel(l), "\"", "'"), id[z.Node])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func linkLabel(l *scenario.LinkSpec) string {
	a, z := l.Ends()
	label := fmt.Sprintf("%s — %s", orAuto(a.Interface), orAuto(z.Interface))
	if subs := l.Subnets(); len(subs) > 0 {
		label += " " + strings.Join(subs, ",")
	}
	for _, im := range l.Impairments() {
		from := im.From
		if from == "" {
			from = "both ways"
		} else {
			from = "from " + from
		}
		label += fmt.Sprintf(" [%s: %s]", from, im.Impairment)
	}
	return label
}

// l3Label summarises a node's NAT rules, firewall rules and policy rules.
func l3Label(n *scenario.NodeSpec) string {
	var s string
	for _, r := range n.NATRules() {
		s += fmt.Sprintf("\\n%s", r.Action)
		if r.In != "" {
			s += " in " + r.In
		}
		if r.Out != "" {
			s += " out " + r.Out
		}
		if r.Proto != "" {
			s += " " + r.Proto
		}
		if r.DPort != "" {
			s += "/" + r.DPort
		}
		if r.To != "" {
			s += " → " + r.To
		}
	}
	if k := len(n.FirewallRules()); k > 0 {
		s += fmt.Sprintf("\\nfirewall: %d rule(s)", k)
	}
	if k := len(n.Rules()); k > 0 {
		s += fmt.Sprintf("\\npolicy rules: %d", k)
	}
	return s
}

func orAuto(s string) string {
	if s == "" {
		return "auto"
	}
	return s
}
