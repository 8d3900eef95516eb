package scenario

import (
	"context"
	"fmt"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
)

// DisableRule turns a named NAT or firewall rule of a node off while the
// network runs: the rule stays in its place and keeps counting the packets
// it matches, but no longer acts on them (no verdict, no translation).
// Connections NAT has already translated keep their translation
// (conntrack), as in the kernel.
func DisableRule(node, rule string) Action { return ruleAction{node: node, rule: rule} }

// EnableRule turns a rule that DisableRule turned off on again, in the same
// place, with its counter running on.
func EnableRule(node, rule string) Action { return ruleAction{node: node, rule: rule, on: true} }

type ruleAction struct {
	node, rule string
	on         bool
}

func (a ruleAction) String() string {
	if a.on {
		return fmt.Sprintf("enable rule %q on %s", a.rule, a.node)
	}
	return fmt.Sprintf("disable rule %q on %s", a.rule, a.node)
}

func (a ruleAction) validate(v *validator, p *plan, obj string) {
	pn := v.node(p, obj, a.node)
	if pn == nil {
		return
	}
	for _, r := range pn.nat {
		if r.name == a.rule && a.rule != "" {
			return
		}
	}
	for _, r := range pn.firewall {
		if r.name == a.rule && a.rule != "" {
			return
		}
	}
	v.add(obj, "node %q has no NAT or firewall rule called %q", "name the rule (NATRule.Name or FirewallRule.Name) and use that name", a.node, a.rule)
}

func (a ruleAction) Run(ctx context.Context, n *Network) error {
	nd, ok := n.Lookup(a.node)
	if !ok {
		return fmt.Errorf("%s: no node %q", a, a.node)
	}
	if err := nd.setRuleEnabled(a.rule, a.on); err != nil {
		return fmt.Errorf("%s: %w", a, err)
	}
	return nil
}

// acts reports whether an expression is what a rule does to the packets it
// matched, rather than part of the match or its counter.
func acts(x expr.Any) bool {
	switch x.(type) {
	case *expr.Verdict, *expr.NAT, *expr.Masq, *expr.Reject, *expr.Redir:
		return true
	}
	return false
}

// setRuleEnabled replaces the named rule in place (by its handle): off, it
// keeps the rule's match and counter without the expressions that act;
// on, it restores them, carrying the counter over.
func (nd *Node) setRuleEnabled(name string, on bool) error {
	if !nd.ns.IsOpen() {
		return fmt.Errorf("node %q: network is closed", nd.name)
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(nd.ns)))
	if err != nil {
		return fmt.Errorf("open nftables: %w", err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return fmt.Errorf("list nftables chains: %w", err)
	}
	for _, ch := range chains {
		if ch.Table.Name != FirewallTable && ch.Table.Name != NATTable {
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			return fmt.Errorf("list rules of %s %s: %w", ch.Table.Name, ch.Name, err)
		}
		for _, r := range rules {
			if got, _ := userdata.GetString(r.UserData, userdata.TypeComment); got != name {
				continue
			}
			nd.mu.Lock()
			defer nd.mu.Unlock()
			if nd.ruleActs == nil {
				nd.ruleActs = map[string][]expr.Any{}
			}
			var exprs []expr.Any
			if on {
				saved, off := nd.ruleActs[name]
				if !off {
					return nil // never disabled: nothing to do
				}
				delete(nd.ruleActs, name)
				exprs = append(r.Exprs, saved...) // the match and the running counter, then the action
			} else {
				if _, off := nd.ruleActs[name]; off {
					return nil
				}
				var actions []expr.Any
				for _, x := range r.Exprs {
					if acts(x) {
						actions = append(actions, x)
					} else {
						exprs = append(exprs, x)
					}
				}
				nd.ruleActs[name] = actions
			}
			c.ReplaceRule(&nftables.Rule{Table: ch.Table, Chain: ch, Handle: r.Handle, Exprs: exprs, UserData: r.UserData})
			if err := c.Flush(); err != nil {
				return fmt.Errorf("replace rule %q: %w", name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("no nftables rule called %q (rules: %v)", name, nd.ruleNames())
}
