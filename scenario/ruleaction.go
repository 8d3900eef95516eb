package scenario

import (
	"context"
	"fmt"
	"slices"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
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
	if a.rule != "" && slices.Contains(pn.ruleNames(), a.rule) {
		return
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
	c, r, err := nd.findRule(name)
	if err != nil {
		return err
	}
	nd.mu.Lock()
	defer nd.mu.Unlock()
	saved, off := nd.ruleActs[name]
	if on == !off {
		return nil // already as asked
	}
	var exprs []expr.Any
	if on {
		delete(nd.ruleActs, name)
		exprs = append(r.Exprs, saved...) // the match and the running counter, then the action
	} else {
		var actions []expr.Any
		for _, x := range r.Exprs {
			if acts(x) {
				actions = append(actions, x)
			} else {
				exprs = append(exprs, x)
			}
		}
		if nd.ruleActs == nil {
			nd.ruleActs = map[string][]expr.Any{}
		}
		nd.ruleActs[name] = actions
	}
	c.ReplaceRule(&nftables.Rule{Table: r.Table, Chain: r.Chain, Handle: r.Handle, Exprs: exprs, UserData: r.UserData})
	if err := c.Flush(); err != nil {
		return fmt.Errorf("replace rule %q: %w", name, err)
	}
	return nil
}
