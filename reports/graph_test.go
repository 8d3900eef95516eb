package reports

import (
	"strings"
	"testing"

	"github.com/vtest-dev/vtest/scenario"
)

// TestGraphDrawsKinds: declared interfaces appear in their node, and
// relations across nodes that are not links (a macvlan on another node's
// interface, a WireGuard tunnel) as dashed edges, each tunnel once.
func TestGraphDrawsKinds(t *testing.T) {
	s := scenario.Define("kinds", "")
	s.Host("host")
	s.Host("peer")
	s.Link("host:eth0", "peer:eth0")
	s.Host("c1").Iface("mv0", scenario.Macvlan{Parent: "host:eth0"})
	s.Host("a").Iface("wg0", scenario.WireGuard{Peer: "b:wg0"})
	s.Host("b").Iface("wg0", scenario.WireGuard{Peer: "a:wg0"})
	s.Link("a", "b")
	l, err := s.Layout()
	if err != nil {
		t.Fatal(err)
	}
	var dot, mm strings.Builder
	if err := WriteDOT(&dot, l); err != nil {
		t.Fatal(err)
	}
	if err := WriteMermaid(&mm, l); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`mv0: macvlan bridge on host:eth0`, `"c1" -- "host" [style=dashed, label="macvlan on host:eth0"]`,
		`"a" -- "b" [style=dashed, label="wireguard a:wg0 — b:wg0"]`} {
		if !strings.Contains(dot.String(), w) {
			t.Errorf("DOT lacks %q:\n%s", w, dot.String())
		}
	}
	if strings.Count(dot.String(), "style=dashed, label=\"wireguard") != 1 {
		t.Errorf("the tunnel is drawn more than once:\n%s", dot.String())
	}
	for _, w := range []string{"<br>wg0: wireguard port 51820 peer b:wg0", "-.-|\"macvlan on host:eth0\"|"} {
		if !strings.Contains(mm.String(), w) {
			t.Errorf("Mermaid lacks %q:\n%s", w, mm.String())
		}
	}
}

// TestGraphDrawsInterfaceMTU: a declared interface's MTU is drawn with it
// (a link's is drawn on the link).
func TestGraphDrawsInterfaceMTU(t *testing.T) {
	s := scenario.Define("mtu", "")
	s.Host("a").Iface("eth0.10", scenario.VLAN{Parent: "eth0", ID: 10}).MTU(1400)
	s.Host("b")
	s.Link("a", "b").MTU(1500)
	l, err := s.Layout()
	if err != nil {
		t.Fatal(err)
	}
	var dot strings.Builder
	if err := WriteDOT(&dot, l); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"eth0.10: vlan 10 (802.1q) on eth0 mtu 1400", "mtu 1500"} {
		if !strings.Contains(dot.String(), w) {
			t.Errorf("DOT lacks %q:\n%s", w, dot.String())
		}
	}
}
