package scenario

import (
	"context"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// FirewallTable is the name of the nftables table (family inet) holding a
// node's firewall rules.
const FirewallTable = "vtest-filter"

// Hook is where in the node's packet path a firewall rule applies.
type Hook string

// Firewall hooks.
const (
	// HookInput sees packets addressed to the node.
	HookInput Hook = "input"
	// HookForward sees packets the node routes through.
	HookForward Hook = "forward"
	// HookOutput sees packets the node sends.
	HookOutput Hook = "output"
)

// RuleAction is what a firewall rule does with the packets it matches.
type RuleAction string

// Firewall actions.
const (
	Accept RuleAction = "accept"
	// Drop discards silently: the sender times out.
	Drop RuleAction = "drop"
	// Reject discards and tells the sender (RejectWith says how).
	Reject RuleAction = "reject"
)

// RejectKind is the answer a Reject rule sends.
type RejectKind string

// Answers of a Reject rule. ICMP ones are sent as ICMP to IPv4 senders and
// ICMPv6 to IPv6 senders.
const (
	// RejectPortUnreachable answers ICMP port unreachable (the default):
	// a TCP or UDP sender sees "connection refused".
	RejectPortUnreachable RejectKind = "port-unreachable"
	RejectHostUnreachable RejectKind = "host-unreachable"
	RejectAdminProhibited RejectKind = "admin-prohibited"
	RejectNoRoute         RejectKind = "no-route"
	// RejectTCPReset answers a TCP reset; it needs Proto "tcp".
	RejectTCPReset RejectKind = "tcp-reset"
)

var rejectCodes = map[RejectKind]uint8{
	RejectPortUnreachable: unix.NFT_REJECT_ICMPX_PORT_UNREACH,
	RejectHostUnreachable: unix.NFT_REJECT_ICMPX_HOST_UNREACH,
	RejectAdminProhibited: unix.NFT_REJECT_ICMPX_ADMIN_PROHIBITED,
	RejectNoRoute:         unix.NFT_REJECT_ICMPX_NO_ROUTE,
}

// FirewallRule is one rule of a node's firewall. Rules of a hook are
// evaluated in definition order; the first that matches decides. Packets no
// rule matches are accepted. Every rule counts what it matches; checks read
// the count with Node.RuleCounter(Name).
type FirewallRule struct {
	// Name identifies the rule for RuleCounter; unique per node. Empty
	// rules still count but cannot be looked up.
	Name string
	// Hook is HookInput, HookForward or HookOutput.
	Hook Hook
	// Match selects the packets.
	Match
	// Action is Accept, Drop or Reject.
	Action RuleAction
	// RejectWith is the answer of a Reject rule; empty means
	// RejectPortUnreachable.
	RejectWith RejectKind
}

// Firewall adds a rule to the node's firewall (nftables, table inet
// vtest-filter in the node's namespace).
func (n *NodeSpec) Firewall(r FirewallRule) *NodeSpec {
	n.firewall = append(n.firewall, r)
	return n
}

// FirewallRules returns the node's firewall rules in definition order.
func (n *NodeSpec) FirewallRules() []FirewallRule { return n.firewall }

type planFirewall struct {
	name   string
	hook   Hook
	m      planMatch
	action RuleAction
	reject RejectKind
}

// firewall validates every node's firewall rules.
func (v *validator) firewall(p *plan) {
	for _, pn := range p.nodes {
		names := map[string]bool{}
		for _, r := range pn.spec.nat {
			names[r.Name] = true
		}
		for i, r := range pn.spec.firewall {
			obj := fmt.Sprintf("node %q firewall rule #%d", pn.spec.name, i+1)
			if r.Name != "" {
				obj = fmt.Sprintf("node %q firewall rule %q", pn.spec.name, r.Name)
				if names[r.Name] {
					v.add(obj, "the name is used twice on the node", "give every firewall and NAT rule of a node its own name")
				}
				names[r.Name] = true
			}
			if pn.spec.kind == RoleSwitch {
				v.add(obj, "is on a switch; bridged traffic does not pass the inet hooks", "put the firewall on a host or router")
				continue
			}
			ok := true
			switch r.Hook {
			case HookInput, HookForward, HookOutput:
			case "":
				v.add(obj, "has no hook", "set Hook to HookInput, HookForward or HookOutput")
				ok = false
			default:
				v.add(obj, "hook %q is unknown", "use HookInput, HookForward or HookOutput", r.Hook)
				ok = false
			}
			pm, mok := v.match(obj, pn, r.Match, string(r.Hook))
			ok = ok && mok
			switch r.Action {
			case Accept, Drop:
				if r.RejectWith != "" {
					v.add(obj, "has RejectWith but the action is %s", "set Action to Reject, or remove RejectWith", r.Action)
					ok = false
				}
			case Reject:
				switch r.RejectWith {
				case "":
					r.RejectWith = RejectPortUnreachable
				case RejectTCPReset:
					if r.Proto != "tcp" {
						v.add(obj, "answers a TCP reset but does not match TCP only", "set Proto to \"tcp\", or reject with an ICMP kind")
						ok = false
					}
				default:
					if _, known := rejectCodes[r.RejectWith]; !known {
						v.add(obj, "reject kind %q is unknown", "use RejectPortUnreachable, RejectHostUnreachable, RejectAdminProhibited, RejectNoRoute or RejectTCPReset", r.RejectWith)
						ok = false
					}
				}
			case "":
				v.add(obj, "has no action", "set Action to Accept, Drop or Reject")
				ok = false
			default:
				v.add(obj, "action %q is unknown", "use Accept, Drop or Reject", r.Action)
				ok = false
			}
			if ok {
				pn.firewall = append(pn.firewall, planFirewall{name: r.Name, hook: r.Hook, m: pm, action: r.Action, reject: r.RejectWith})
			}
		}
	}
}

var hookNums = map[Hook]*nftables.ChainHook{
	HookInput:   nftables.ChainHookInput,
	HookForward: nftables.ChainHookForward,
	HookOutput:  nftables.ChainHookOutput,
}

// installFirewallRules adds, in namespace ns only, table inet vtest-filter with
// one filter chain per hook used, holding the rules in order.
func installFirewallRules(ns netns.NsHandle, rules []planFirewall) error {
	accept := nftables.ChainPolicyAccept
	out := make([]nftRule, 0, len(rules))
	for _, r := range rules {
		exprs := append(r.m.exprs(), &expr.Counter{})
		switch r.action {
		case Accept:
			exprs = append(exprs, &expr.Verdict{Kind: expr.VerdictAccept})
		case Drop:
			exprs = append(exprs, &expr.Verdict{Kind: expr.VerdictDrop})
		case Reject:
			if r.reject == RejectTCPReset {
				exprs = append(exprs, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
			} else {
				exprs = append(exprs, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: rejectCodes[r.reject]})
			}
		}
		out = append(out, nftRule{
			chain: nftables.Chain{
				Name:     string(r.hook),
				Type:     nftables.ChainTypeFilter,
				Hooknum:  hookNums[r.hook],
				Priority: nftables.ChainPriorityFilter,
				Policy:   &accept,
			},
			exprs: exprs,
			name:  r.name,
		})
	}
	return installRules(ns, FirewallTable, "firewall rules", out)
}

// probeFirewall installs a reject rule, which needs nf_tables, its inet
// family and nft_reject_inet.
func probeFirewall(ns netns.NsHandle) error {
	return installFirewallRules(ns, []planFirewall{{hook: HookInput, action: Reject, reject: RejectPortUnreachable, m: planMatch{proto: unix.IPPROTO_TCP, dport: portRange{9, 9}}}})
}

func (n *Network) installFirewall(ctx context.Context) error {
	for _, pn := range n.plan.nodes {
		nd := n.nodes[pn.spec.name]
		if err := installFirewallRules(nd.ns, pn.firewall); err != nil {
			return fmt.Errorf("node %q: %w", nd.name, err)
		}
	}
	return nil
}
