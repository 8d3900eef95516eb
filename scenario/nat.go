package scenario

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// NATAction is what a NAT rule does.
type NATAction string

// NAT actions.
const (
	// SNAT rewrites the source of matching connections to To (postrouting).
	SNAT NATAction = "snat"
	// DNAT rewrites the destination of matching connections to To, an
	// address or address:port (prerouting): port forwarding.
	DNAT NATAction = "dnat"
	// Masquerade rewrites the source to the address of the output
	// interface (postrouting).
	Masquerade NATAction = "masquerade"
)

// NATFamily is the nftables family of the table a NAT rule is installed
// in.
type NATFamily string

// NAT table families.
const (
	// NATInet is table inet vtest-nat, for IPv4 and IPv6 (the default).
	NATInet NATFamily = "inet"
	// NATIP is table ip vtest-nat, IPv4 only, as older rule sets and the
	// kernel's nft selftests write it.
	NATIP NATFamily = "ip"
	// NATIP6 is table ip6 vtest-nat, IPv6 only.
	NATIP6 NATFamily = "ip6"
)

// NATRule is one NAT rule of a router, installed in table vtest-nat of its
// TableFamily in its namespace. Only the first packet of a connection
// passes NAT rules; conntrack translates the rest, both ways.
type NATRule struct {
	// Name identifies the rule for Node.RuleCounter; unique per node.
	Name string
	// Action is SNAT, DNAT or Masquerade.
	Action NATAction
	// Match selects the connections. SNAT and Masquerade rules cannot
	// match In; DNAT rules cannot match Out.
	Match
	// To is the new address: for SNAT an address ("203.0.113.1"), for
	// DNAT an address or address:port ("10.0.1.2:80", "[fd00::2]:80").
	// Masquerade takes none.
	To string
	// Random, FullyRandom and Persistent are the kernel's NAT flags:
	// randomised source ports, fully randomised ports, and the same
	// mapping for a client across connections.
	Random, FullyRandom, Persistent bool
	// TableFamily is the family of the table the rule is in: NATInet
	// ("" too), NATIP or NATIP6. Rules apply in definition order within
	// a family; the tables of two families each see the connection.
	TableFamily NATFamily
}

// NAT adds a NAT rule to a router. Rules apply in definition order, the
// first match wins. Masquerade("wan") is like
// NAT(NATRule{Action: Masquerade, Match: Match{Out: "wan"}}) placed before
// every NAT rule.
func (n *NodeSpec) NAT(r NATRule) *NodeSpec {
	n.nat = append(n.nat, r)
	return n
}

// NATRules returns the node's NAT rules in definition order (without the
// one Masquerade adds).
func (n *NodeSpec) NATRules() []NATRule { return n.nat }

type planNAT struct {
	name                      string
	action                    NATAction
	m                         planMatch
	to                        netip.Addr
	toPort                    uint16
	random, fully, persistent bool
	family                    nftables.TableFamily
}

// natRules validates every node's NAT rules.
func (v *validator) natRules(p *plan) {
	for _, pn := range p.nodes {
		names := map[string]bool{}
		for i, r := range pn.spec.nat {
			obj := fmt.Sprintf("node %q NAT rule #%d", pn.spec.name, i+1)
			if r.Name != "" {
				obj = fmt.Sprintf("node %q NAT rule %q", pn.spec.name, r.Name)
				if names[r.Name] {
					v.add(obj, "the name is used twice on the node", "give every firewall and NAT rule of a node its own name")
				}
				names[r.Name] = true
			}
			if pn.spec.kind != RoleRouter {
				v.add(obj, "is on a %s", "define the node with Router: NAT needs forwarding", pn.spec.kind)
				continue
			}
			hook := "postrouting"
			if r.Action == DNAT {
				hook = "prerouting"
			}
			pm, ok := v.match(obj, pn, r.Match, hook)
			pr := planNAT{name: r.Name, action: r.Action, random: r.Random, fully: r.FullyRandom, persistent: r.Persistent}
			switch r.Action {
			case Masquerade:
				if r.To != "" {
					v.add(obj, "a masquerade rule has a To address", "remove To (masquerade uses the output interface's address), or use SNAT")
					ok = false
				}
				if r.Out == "" {
					v.add(obj, "masquerades without an output interface", "set Match.Out to the outside interface")
					ok = false
				}
			case SNAT, DNAT:
				to := strings.TrimSpace(r.To)
				if ap, err := netip.ParseAddrPort(to); err == nil {
					if r.Action == SNAT {
						v.add(obj, "an SNAT target %q has a port", "give SNAT an address only", r.To)
						ok = false
					}
					if r.Proto != "tcp" && r.Proto != "udp" {
						v.add(obj, "translates to port %d without Proto tcp or udp", "set Proto to \"tcp\" or \"udp\"", ap.Port())
						ok = false
					}
					if ap.Port() == 0 {
						v.add(obj, "target port 0", "use a port 1..65535")
						ok = false
					}
					pr.to, pr.toPort = ap.Addr(), ap.Port()
				} else if a, err := netip.ParseAddr(to); err == nil {
					pr.to = a
				} else {
					v.add(obj, "target %q is not an address or address:port", "write it like 10.0.1.2, 10.0.1.2:80 or [fd00::2]:80", r.To)
					ok = false
					break
				}
				if ok && pm.v6 != 0 && (pm.v6 == 6) != pr.to.Is6() {
					v.add(obj, "the target %s is of another family than the match", "use a target of the matched family", pr.to)
					ok = false
				}
				if pr.to.Is6() {
					pm.v6 = 6
				} else {
					pm.v6 = 4
				}
			case "":
				v.add(obj, "has no action", "set Action to SNAT, DNAT or Masquerade")
				ok = false
			default:
				v.add(obj, "action %q is unknown", "use SNAT, DNAT or Masquerade", r.Action)
				ok = false
			}
			switch r.TableFamily {
			case "", NATInet:
				pr.family = nftables.TableFamilyINet
			case NATIP, NATIP6:
				want, fam := 4, nftables.TableFamilyIPv4
				if r.TableFamily == NATIP6 {
					want, fam = 6, nftables.TableFamilyIPv6
				}
				pr.family = fam
				if ok && pm.v6 != 0 && pm.v6 != want {
					v.add(obj, "matches or translates to IPv%d in a table of family %s", "use NATInet, or the family of the rule's addresses", pm.v6, r.TableFamily)
					ok = false
				}
				pm.v6 = want
			default:
				v.add(obj, "table family %q is unknown", "use NATInet, NATIP or NATIP6", r.TableFamily)
				ok = false
			}
			if r.Random && r.FullyRandom {
				v.add(obj, "is both Random and FullyRandom", "choose one")
				ok = false
			}
			if ok {
				pr.m = pm
				pn.nat = append(pn.nat, pr)
			}
		}
	}
}

// installNATRules adds a node's NAT rules, in namespace ns only, to table
// vtest-nat of each rule's family (inet when unset): chain prerouting
// (dstnat) for DNAT, chain postrouting (srcnat) for SNAT and masquerade.
func installNATRules(ns netns.NsHandle, rules []planNAT) error {
	byFamily := map[nftables.TableFamily][]nftRule{}
	var order []nftables.TableFamily
	for _, r := range rules {
		fam := r.family
		if fam == 0 {
			fam = nftables.TableFamilyINet
		}
		if byFamily[fam] == nil {
			order = append(order, fam)
		}
		ch := nftables.Chain{Name: "postrouting", Type: nftables.ChainTypeNAT,
			Hooknum: nftables.ChainHookPostrouting, Priority: nftables.ChainPriorityNATSource}
		if r.action == DNAT {
			ch = nftables.Chain{Name: "prerouting", Type: nftables.ChainTypeNAT,
				Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityNATDest}
		}
		exprs := append(r.m.exprs(), &expr.Counter{})
		switch r.action {
		case Masquerade:
			exprs = append(exprs, &expr.Masq{Random: r.random, FullyRandom: r.fully, Persistent: r.persistent})
		default:
			typ, fam := expr.NATTypeSourceNAT, uint32(unix.NFPROTO_IPV4)
			if r.action == DNAT {
				typ = expr.NATTypeDestNAT
			}
			if r.to.Is6() {
				fam = unix.NFPROTO_IPV6
			}
			exprs = append(exprs, &expr.Immediate{Register: 1, Data: r.to.AsSlice()})
			nat := &expr.NAT{Type: typ, Family: fam, RegAddrMin: 1, Random: r.random, FullyRandom: r.fully, Persistent: r.persistent}
			if r.toPort != 0 {
				exprs = append(exprs, &expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(r.toPort)})
				nat.RegProtoMin, nat.Specified = 2, true
			}
			exprs = append(exprs, nat)
		}
		byFamily[fam] = append(byFamily[fam], nftRule{chain: ch, exprs: exprs, name: r.name})
	}
	for _, fam := range order {
		if err := installRulesIn(ns, fam, NATTable, "NAT rules", byFamily[fam]); err != nil {
			return err
		}
	}
	return nil
}

// probeNAT installs a DNAT rule, which needs nf_tables NAT (nft_nat).
func probeNAT(ns netns.NsHandle) error {
	return installNATRules(ns, []planNAT{{action: DNAT, m: planMatch{v6: 4, proto: unix.IPPROTO_TCP, dport: portRange{9, 9}}, to: netip.MustParseAddr("192.0.2.1"), toPort: 9}})
}

// l3Features returns the features the scenario's routing, NAT, firewall and
// impairments need.
func (s *Spec) l3Features() []Feature {
	var out []Feature
	for _, n := range s.nodes {
		if n == nil {
			continue
		}
		for _, r := range n.nat {
			if r.Action == Masquerade {
				out = append(out, FeatureMasquerade)
			} else {
				out = append(out, FeatureNAT)
			}
		}
		if len(n.firewall) > 0 {
			out = append(out, FeatureNFTables)
		}
	}
	for _, l := range s.links {
		if l != nil {
			out = append(out, l.impairFeatures()...)
		}
	}
	return out
}
