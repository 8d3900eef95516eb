package scenario

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Family restricts a NAT or firewall rule to one address family.
type Family string

// Address families of NAT and firewall rules.
const (
	// FamilyAny matches IPv4 and IPv6 (unless the rule's addresses say
	// otherwise).
	FamilyAny  Family = ""
	FamilyIPv4 Family = "ipv4"
	FamilyIPv6 Family = "ipv6"
)

// Match selects the packets a NAT or firewall rule applies to. Every field
// set must match; the zero Match matches every packet.
type Match struct {
	// Family restricts the rule to IPv4 or IPv6. Src, Dst, a NAT target
	// or Proto "icmp"/"icmpv6" imply it.
	Family Family
	// Proto is "tcp", "udp", "icmp" or "icmpv6".
	Proto string
	// Src and Dst match the source and destination address by prefix
	// (CIDR) or single address.
	Src, Dst string
	// SPort and DPort match the source and destination port: "80" or a
	// range "8000-8100". They need Proto "tcp" or "udp".
	SPort, DPort string
	// In and Out match the input and output interface by name.
	In, Out string
	// State matches the connection-tracking state: any of "new",
	// "established", "related", "invalid".
	State []string
}

// portRange is an inclusive port range; the zero value matches any port.
type portRange struct{ lo, hi uint16 }

func (r portRange) set() bool { return r.hi != 0 }

// planMatch is a validated Match.
type planMatch struct {
	v6       int // 0 any, 4 IPv4 only, 6 IPv6 only
	proto    uint8
	src, dst netip.Prefix
	sport    portRange
	dport    portRange
	in, out  string
	state    uint32
}

var ctStates = map[string]uint32{
	"new":         expr.CtStateBitNEW,
	"established": expr.CtStateBitESTABLISHED,
	"related":     expr.CtStateBitRELATED,
	"invalid":     expr.CtStateBitINVALID,
}

var protos = map[string]uint8{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "icmp": unix.IPPROTO_ICMP, "icmpv6": unix.IPPROTO_ICMPV6}

// parsePorts parses "80" or "8000-8100".
func parsePorts(s string) (portRange, error) {
	lo, hi, isRange := strings.Cut(strings.TrimSpace(s), "-")
	a, err1 := strconv.ParseUint(strings.TrimSpace(lo), 10, 16)
	b := a
	var err2 error
	if isRange {
		b, err2 = strconv.ParseUint(strings.TrimSpace(hi), 10, 16)
	}
	switch {
	case err1 != nil || err2 != nil:
		return portRange{}, fmt.Errorf("%q is not a port or a port range", s)
	case a == 0 || b == 0:
		return portRange{}, fmt.Errorf("port 0 in %q cannot be matched", s)
	case a > b:
		return portRange{}, fmt.Errorf("port range %q runs backwards", s)
	}
	return portRange{uint16(a), uint16(b)}, nil
}

// match validates m for a rule of node pn. obj names the rule in errors.
// hook is the netfilter hook ("input", "forward", "output", "prerouting",
// "postrouting") deciding which interfaces make sense.
func (v *validator) match(obj string, pn *planNode, m Match, hook string) (planMatch, bool) {
	var pm planMatch
	ok := true
	bad := func(problem, fix string, args ...any) {
		v.add(obj, problem, fix, args...)
		ok = false
	}
	families := map[int]string{}
	note := func(f int, why string) {
		if _, dup := families[f]; !dup {
			families[f] = why
		}
	}
	switch m.Family {
	case FamilyAny:
	case FamilyIPv4:
		note(4, "Family")
	case FamilyIPv6:
		note(6, "Family")
	default:
		bad("family %q is unknown", "use FamilyIPv4, FamilyIPv6 or leave it empty for both", m.Family)
	}
	if m.Proto != "" {
		p, known := protos[m.Proto]
		if !known {
			bad("protocol %q is unknown", "use tcp, udp, icmp or icmpv6", m.Proto)
		}
		pm.proto = p
		switch m.Proto {
		case "icmp":
			note(4, "Proto icmp")
		case "icmpv6":
			note(6, "Proto icmpv6")
		}
	}
	for _, sel := range []struct {
		name, s string
		dst     *netip.Prefix
	}{{"Src", m.Src, &pm.src}, {"Dst", m.Dst, &pm.dst}} {
		if sel.s == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(strings.TrimSpace(sel.s))
		if err != nil {
			a, aerr := netip.ParseAddr(strings.TrimSpace(sel.s))
			if aerr != nil {
				bad("%s %q is neither a CIDR nor an address", "write it like 10.0.1.0/24 or 10.0.1.2", sel.name, sel.s)
				continue
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		if pfx != pfx.Masked() {
			bad("%s %q has host bits set", "use the network address "+pfx.Masked().String(), sel.name, sel.s)
			continue
		}
		*sel.dst = pfx
		if pfx.Addr().Is4() {
			note(4, sel.name+" "+sel.s)
		} else {
			note(6, sel.name+" "+sel.s)
		}
	}
	for _, sel := range []struct {
		name, s string
		dst     *portRange
	}{{"SPort", m.SPort, &pm.sport}, {"DPort", m.DPort, &pm.dport}} {
		if sel.s == "" {
			continue
		}
		if m.Proto != "tcp" && m.Proto != "udp" {
			bad("%s %q without Proto tcp or udp", "set Proto to \"tcp\" or \"udp\": ports exist only there", sel.name, sel.s)
			continue
		}
		r, err := parsePorts(sel.s)
		if err != nil {
			bad("%s: %v", "write a port 1..65535 or a range like 8000-8100 (low-high)", sel.name, err)
			continue
		}
		*sel.dst = r
	}
	for _, sel := range []struct {
		name, dev string
		allowed   bool
	}{{"In", m.In, hook != "output" && hook != "postrouting"}, {"Out", m.Out, hook != "input" && hook != "prerouting"}} {
		if sel.dev == "" {
			continue
		}
		switch {
		case !sel.allowed:
			bad("%s interface %q cannot be matched at the %s hook", "the packet has no "+strings.ToLower(sel.name)+"put interface there; remove "+sel.name, sel.name, sel.dev, hook)
		case sel.dev != "lo" && !pn.hasDev(sel.dev):
			bad("%s interface %q does not exist on node %q", "name one of its interfaces ("+pn.ifaceNames()+")", sel.name, sel.dev, pn.spec.name)
		}
	}
	pm.in, pm.out = m.In, m.Out
	for _, st := range m.State {
		bit, known := ctStates[st]
		if !known {
			bad("conntrack state %q is unknown", "use new, established, related or invalid", st)
		}
		pm.state |= bit
	}
	if len(families) > 1 {
		bad("mixes IPv4 (%s) and IPv6 (%s)", "split it into one rule per family", families[4], families[6])
	}
	for f := range families {
		pm.v6 = f
	}
	return pm, ok
}

// exprs returns the nftables expressions matching pm, for a rule of an inet
// table.
func (pm planMatch) exprs() []expr.Any {
	var e []expr.Any
	if pm.v6 != 0 {
		proto := byte(unix.NFPROTO_IPV4)
		if pm.v6 == 6 {
			proto = unix.NFPROTO_IPV6
		}
		e = append(e, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{proto}})
	}
	if pm.in != "" {
		e = append(e, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(pm.in)})
	}
	if pm.out != "" {
		e = append(e, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: ifname(pm.out)})
	}
	if pm.proto != 0 {
		e = append(e, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{pm.proto}})
	}
	for i, p := range []netip.Prefix{pm.src, pm.dst} {
		if !p.IsValid() {
			continue
		}
		off, n := uint32(12), uint32(4) // IPv4 saddr
		if p.Addr().Is6() {
			off, n = 8, 16
		}
		if i == 1 {
			off += n
		}
		e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: n})
		if p.Bits() < p.Addr().BitLen() {
			mask := make([]byte, n)
			for b := 0; b < p.Bits(); b++ {
				mask[b/8] |= 0x80 >> (b % 8)
			}
			e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: n, Mask: mask, Xor: make([]byte, n)})
		}
		e = append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: p.Addr().AsSlice()})
	}
	for i, r := range []portRange{pm.sport, pm.dport} {
		if !r.set() {
			continue
		}
		e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: uint32(2 * i), Len: 2})
		if r.lo == r.hi {
			e = append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.lo)})
		} else {
			e = append(e, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: binaryutil.BigEndian.PutUint16(r.lo), ToData: binaryutil.BigEndian.PutUint16(r.hi)})
		}
	}
	if pm.state != 0 {
		e = append(e, &expr.Ct{Register: 1, Key: expr.CtKeySTATE},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: binaryutil.NativeEndian.PutUint32(pm.state), Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
	}
	return e
}

// nftRule is one rule for installRules: the chain it belongs in (a template
// without Table; the first rule naming a chain adds it), the expressions and
// the rule's name.
type nftRule struct {
	chain nftables.Chain
	exprs []expr.Any
	name  string
}

// installRules adds, in namespace ns only, the inet table called table with
// the chains its rules use, holding the rules in order, in one batch; what
// names the rules in the error.
func installRules(ns netns.NsHandle, table, what string, rules []nftRule) error {
	return installRulesIn(ns, nftables.TableFamilyINet, table, what, rules)
}

// installRulesIn is installRules for a table of the family fam.
func installRulesIn(ns netns.NsHandle, fam nftables.TableFamily, table, what string, rules []nftRule) error {
	if len(rules) == 0 {
		return nil
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(ns)), nftables.AsLasting())
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	defer c.CloseLasting()
	t := c.AddTable(&nftables.Table{Family: fam, Name: table})
	chains := map[string]*nftables.Chain{}
	for _, r := range rules {
		ch := chains[r.chain.Name]
		if ch == nil {
			tmpl := r.chain
			tmpl.Table = t
			ch = c.AddChain(&tmpl)
			chains[tmpl.Name] = ch
		}
		c.AddRule(&nftables.Rule{Table: t, Chain: ch, Exprs: r.exprs, UserData: ruleName(r.name)})
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("add %s: %w", what, err)
	}
	return nil
}

// ruleName stores a rule's name in its user data, as nft stores comments,
// so that `nft list ruleset` shows it and RuleCounter finds it.
func ruleName(name string) []byte {
	if name == "" {
		return nil
	}
	return userdata.AppendString(nil, userdata.TypeComment, name)
}

// Counter is what an nftables rule's counter has seen.
type Counter struct {
	Packets, Bytes uint64
}

// String renders "N packets, M bytes".
func (c Counter) String() string { return fmt.Sprintf("%d packets, %d bytes", c.Packets, c.Bytes) }

// RuleCounter returns the counter of the firewall or NAT rule called name
// in this node (FirewallRule.Name, NATRule.Name), read from the kernel now.
// NAT rules see only the first packet of each connection.
func (nd *Node) RuleCounter(name string) (Counter, error) {
	if name == "" {
		return Counter{}, fmt.Errorf("node %q: RuleCounter needs a rule name", nd.name)
	}
	_, r, err := nd.findRule(name)
	if err != nil {
		return Counter{}, err
	}
	for _, x := range r.Exprs {
		if cnt, ok := x.(*expr.Counter); ok {
			return Counter{Packets: cnt.Packets, Bytes: cnt.Bytes}, nil
		}
	}
	return Counter{}, fmt.Errorf("node %q: rule %q has no counter", nd.name, name)
}

// findRule finds the rule called name in vtest's NAT and firewall tables of
// the node, with a connection to the node's nftables.
func (nd *Node) findRule(name string) (*nftables.Conn, *nftables.Rule, error) {
	if !nd.ns.IsOpen() {
		return nil, nil, fmt.Errorf("node %q: network is closed", nd.name)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(nd.ns)))
	if err != nil {
		return nil, nil, fmt.Errorf("node %q: open nftables: %w", nd.name, err)
	}
	// vtest's tables are inet; NAT rules may be in ip or ip6 tables too.
	var chains []*nftables.Chain
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyINet, nftables.TableFamilyIPv4, nftables.TableFamilyIPv6} {
		chs, err := c.ListChainsOfTableFamily(fam)
		if err != nil {
			return nil, nil, fmt.Errorf("node %q: list nftables chains of family %s: %w", nd.name, familyName(fam), err)
		}
		chains = append(chains, chs...)
	}
	for _, ch := range chains {
		if ch.Table.Name != FirewallTable && ch.Table.Name != NATTable {
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return nil, nil, fmt.Errorf("node %q: list rules of %s %s: %w", nd.name, ch.Table.Name, ch.Name, err)
		}
		for _, r := range rules {
			if got, _ := userdata.GetString(r.UserData, userdata.TypeComment); got == name {
				r.Table, r.Chain = ch.Table, ch
				return c, r, nil
			}
		}
	}
	return nil, nil, fmt.Errorf("node %q: no nftables rule called %q (rules: %s)", nd.name, name, strings.Join(nd.ruleNames(), ", "))
}

func (nd *Node) ruleNames() []string {
	if nd.net == nil {
		return nil
	}
	if pn := nd.net.plan.node(nd.name); pn != nil {
		return pn.ruleNames()
	}
	return nil
}

// ruleNames returns the names of the node's firewall and NAT rules that
// have one.
func (pn *planNode) ruleNames() []string {
	var out []string
	for _, r := range pn.firewall {
		out = append(out, r.name)
	}
	for _, r := range pn.nat {
		out = append(out, r.name)
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}
