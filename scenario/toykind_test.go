package scenario

// This file is the whole of a new link kind, to show that adding one
// touches one file: the kind (its options, validation, link, drawing and
// roles) and its feature record (probe, kconfig, modules). Nothing else
// in the package names it; the tests below validate, draw and build it.

import (
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// featureHub is what the toy kind needs of the kernel.
const featureHub Feature = "toy-hub"

var _ = defineFeature(featureHub, featureDef{
	what: "creating a bridge that never learns",
	try: func(_ netns.NsHandle, h *netlink.Handle) error {
		return h.LinkAdd((hub{}).link(netlink.LinkAttrs{Name: "probe0"}))
	},
	kconfig: []string{"CONFIG_BRIDGE"},
	modules: []string{"bridge"},
})

// hub is a toy master kind: a bridge with an ageing time of 0, which
// learns no address and floods every frame to every port, like a hub.
type hub struct{}

func (hub) kindName() string { return "hub" }
func (hub) feature() Feature { return featureHub }
func (hub) describe(i *IfaceSpec) string {
	return "hub of " + strings.Join(i.members, ", ")
}

func (hub) check(c *kindCheck) {
	if len(c.iface.spec.members) == 0 {
		c.fail("has no members", "name the interfaces it joins with Members")
	}
}

func (h hub) newLink(b *kindBuild) (netlink.Link, error) { return h.link(b.attrs), nil }

func (hub) link(attrs netlink.LinkAttrs) netlink.Link {
	never := uint32(0)
	return &netlink.Bridge{LinkAttrs: attrs, AgeingTime: &never}
}

// Its roles: it holds layer-2 ports, switches between them without STP or
// VLANs, and its ports carry its traffic.
func (hub) enslavesL2() bool    { return true }
func (hub) stp() bool           { return false }
func (hub) vlanFiltering() bool { return false }
func (hub) framing() Framing    { return FramingNone }

// hubScenario: hosts a and b joined by the hub inside node h; it returns
// the hub's declaration too.
func hubScenario() (*Spec, *IfaceSpec) {
	s := Define("toy-hub", "two hosts joined by a hub")
	h := s.Host("h").Iface("hub0", hub{}).Members("p1", "p2")
	s.Host("a")
	s.Host("b")
	s.Link("a", "h:p1").Addrs("10.77.0.1/24", "")
	s.Link("b", "h:p2").Addrs("10.77.0.2/24", "")
	return s, h
}

// TestToyKindValidates: the toy kind validates, brings its feature and
// kconfig into the scenario, is drawn in the layout, and the roles it
// declares are enforced (its ports carry no address; it takes no Port
// options, having no portConfigurer).
func TestToyKindValidates(t *testing.T) {
	s, _ := hubScenario()
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(s.Features(), featureHub) || !slices.Contains(s.Kconfig(), "CONFIG_BRIDGE") {
		t.Errorf("features %v, kconfig %v", s.Features(), s.Kconfig())
	}
	if !slices.Contains(AllModules(), "bridge") {
		t.Errorf("modules %v", AllModules())
	}
	l, err := s.Layout()
	if err != nil {
		t.Fatal(err)
	}
	drawn := map[string]LayoutInterface{}
	for _, n := range l.Nodes {
		for _, i := range n.Interfaces {
			drawn[n.Name+":"+i.Name] = i
		}
	}
	if i := drawn["h:hub0"]; i.Kind != "hub" || i.Detail != "hub of p1, p2" {
		t.Errorf("h:hub0 drawn as %+v", i)
	}
	if i := drawn["h:p1"]; i.Master != "hub0" || len(i.Addrs) != 0 {
		t.Errorf("h:p1 drawn as %+v", i)
	}

	s, h := hubScenario()
	s.Link("a", "h:p3").Addrs("10.78.0.1/24", "10.78.0.2/24")
	h.Members("p3")
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), `is a port of hub "hub0" and has an address`) {
		t.Errorf("an addressed port of the hub: %v", err)
	}
	s, h = hubScenario()
	s.Link("a", "h:p3").L2()
	h.Port("p3", BridgePort{})
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "has bridge ports but is a hub") {
		t.Errorf("Port on the hub: %v", err)
	}
	s = Define("toy-hub", "")
	s.Host("h").Iface("hub0", hub{})
	if err := s.Validate(); err == nil || !strings.Contains(err.Error(), "has no members") {
		t.Errorf("a hub without members: %v", err)
	}
}

// TestToyKindBuilds: the toy kind is built (or the test skips where the
// kernel lacks its feature), with its ports enslaved, its framing on the
// Interface, and it carries a datagram from a to b.
func TestToyKindBuilds(t *testing.T) {
	if os.Geteuid() != 0 || testing.Short() {
		t.Skip("integration test: needs root")
	}
	s, _ := hubScenario()
	n := New(t, s)
	h := n.Node("h")
	if i := h.Interface("hub0"); i == nil || i.Kind != "hub" || i.Framing != FramingNone || !i.Switches {
		t.Fatalf("h:hub0 = %+v", i)
	}
	if i := h.Interface("p1"); i == nil || i.Master != "hub0" || i.Framing != FramingEthernet {
		t.Fatalf("h:p1 = %+v", i)
	}
	l, err := h.Netlink().LinkByName("hub0")
	if br, ok := l.(*netlink.Bridge); err != nil || !ok || br.AgeingTime == nil || *br.AgeingTime != 0 {
		t.Fatalf("hub0 in the kernel: %#v, %v", l, err)
	}
	var rx net.PacketConn
	if err := n.Node("b").Do(func() (err error) { rx, err = net.ListenPacket("udp4", "10.77.0.2:7777"); return err }); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	err = n.Node("a").Do(func() error {
		c, err := net.Dial("udp4", "10.77.0.2:7777")
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Write([]byte("through the hub"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	rx.SetReadDeadline(time.Now().Add(3 * time.Second))
	buf := make([]byte, 64)
	k, _, err := rx.ReadFrom(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("the datagram from a never reached b through the hub")
	}
	if err != nil || string(buf[:k]) != "through the hub" {
		t.Fatalf("b read %q, %v", buf[:k], err)
	}
}
