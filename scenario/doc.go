/*
Package scenario describes a throwaway network (hosts, routers, NAT routers
and switches joined by veth pairs and other link kinds), validates the
description, builds it out of anonymous network namespaces, runs steps and
checks inside it and tears it down, whatever happens.

# Life cycle

A scenario goes through five stages, each with one entry point:

 1. Spec. Define starts a description; builder methods add nodes (Spec.Host,
    Spec.Router, Spec.Switch), links (Spec.Link), addresses, routes, NAT and
    firewall rules, interfaces of other kinds (NodeSpec.Iface), steps
    (Spec.Step) and checks (Spec.Check). Builder methods never fail and
    create nothing.
 2. Validate. Spec.Validate reports mistakes, each naming the scenario,
    the object and the fix, before any kernel object exists: an address
    outside its subnet, a gateway on no shared segment, two routes that
    would collide, an unknown interface in a step.
 3. Build. Build (or New in a test) creates a namespace per node, links,
    addresses, routes, NAT and firewall tables, impairments, in dependency
    order, and returns only when every link is operationally up on both
    ends. Kernel features a scenario needs (Spec.Needs, and those its
    definition implies) are probed first; a kernel without one skips the
    scenario with the probe's reason. Without privileges New skips and
    Build returns an error; nothing is created.
 4. Steps and checks, in definition order. A step (Spec.Step with a
    built-in Action such as LinkDown or Flap, or Spec.StepFunc) changes the
    network; a check (a CheckFunc, usually from package assert) observes it
    and returns a Result with evidence. A failed step stops the scenario;
    the items after it are reported as not run. Spec.Parallel runs the
    checks between two steps concurrently.
 5. Teardown. Network.Close (or t.Cleanup after New) kills the processes
    started in nodes and closes the namespaces; they are anonymous (held by
    file descriptors), so the kernel frees them even when the process dies
    by SIGKILL. Processes are looked for, by namespace in /proc (daemons
    that left their parent too), in the nodes where foreign code may have
    started one: Node.Do, a Cmd or StartProcess, Node.NamespaceFd handed
    out. vtest's own checks, Dial, Listen and Sysctl start none and spare
    the scan. Those nodes' namespaces are also handed to a process guard
    (the running binary started again, see internal/nsguard) that kills
    their processes if this process dies without a teardown. Nothing in the caller's namespace is created or changed at
    any stage.

vtest run drives the same stages for every registered scenario (Register,
from a package's init) through package runner, and writes the reports.

# The model

	s := scenario.Define("routed", "client — router — server on two subnets")
	s.Host("client").Route("default", "router") // gateway by node name or address
	s.Router("router")                           // forwarding on, in its namespace only
	s.Host("server").Route("default", "router")
	s.Link("client", "router").Subnet("10.0.1.0/24") // addresses .1, .2 allocated
	s.Link("router", "server").Subnet("10.0.2.0/24")
	s.Check("client reaches server", assert.Reach("client", "server"))
	scenario.Register(s)

Hosts are a namespace each; routers are hosts with forwarding on; switches
are a Linux bridge in a namespace of their own. A link is a veth pair whose
ends are "node" or "node:iface" (unnamed interfaces are eth0, eth1, … in
the order of the node's links). Addresses come from Addrs, from a link's
Subnet (.1 and .2, in the order of the ends), or from Spec.Range4/Range6.
A gateway or target given by node name means that node's address on the
segment shared with the node that uses it; a node that shares no segment
is reached at its first address (of the family asked for) in definition
order: to aim at one address of a multi-homed node, give the address.

Taking an interface administratively down (LinkDown, Flap) makes the
kernel flush every route through it, static ones included, and LinkUp does
not restore them: take the far end down instead (the near end loses
carrier and keeps its routes), or re-add routes with AddRoute.

# Link kinds

An interface a node declares with NodeSpec.Iface has a LinkKind (VLAN,
Bridge, Bond, VXLAN, …); a Link's two ends are veth. Each kind lives in one
file, kind_<name>.go, which holds everything vtest knows of it: its options
and their validation, the netlink link it creates, its description for
graphs, the kernel feature it needs, declared once as a record (what the
probe tries, the kernel config options, the modules a VM must carry), and
the roles the rest of the package asks about instead of naming kinds: it
holds other interfaces and whether they lose their addresses (a master:
Bridge, Bond, VRF), it switches frames between them (a switcher: Bridge),
it comes up without its underlay (VXLAN), it cannot carry a macvlan, and
how a packet socket on it frames traffic (Interface.Framing). Adding a kind
is one file; scenario/toykind_test.go shows one.

# Where things are

The files fall into four groups, following the life cycle; a feature's
file keeps its spec, its validation and its build side by side.

The model and its validation (nothing here touches the kernel):
  - spec.go: Spec, NodeSpec, LinkSpec, the builder (Define, Host, Router,
    Switch, Link) and Features.
  - route.go (routes, policy rules, static neighbours), nat.go, firewall.go
    and nftmatch.go (rule matches), impair.go (netem, tbf and htb
    impairments): each a part of a node or link, its validation and its
    build.
  - kind.go (the LinkKind seam, IfaceSpec, and the order interfaces are
    created in), kindrole.go (the roles a kind may have, and Framing) and
    kind_*.go (one per kind).
  - validate.go: Validate, the plan a valid Spec resolves to, and the
    validator's passes over nodes, links, names and bridge loops;
    addr.go: segments, subnets and address allocation; mtu.go: the MTU
    rule; names.go: interface and node names; prefixset.go: the overlap
    index behind them.
  - layout.go: Layout, the resolved topology that graphs draw.
  - feature.go (Feature, Probe, the feature records of traffic control,
    netfilter and IPv6) and kconfig.go (the kernel config a Spec needs).

Building in the kernel:
  - network.go: Network, Node, Interface, Build and Close, and the stages
    of a build, from the namespaces to the wait for every link to be up;
    node.go: Node's accessors.
  - testing.go: New, Build for a test.
  - neighbours.go: pre-installed neighbour entries; nodenet.go: Dial,
    Listen and HTTPClient inside a node; cmd.go: commands run in a node.
  - dump.go, dump_l3.go and bridgeport.go: the state dump a failure
    carries, and the bridge port table.

Runtime actions (steps), each validated with the Spec:
  - step.go: Action, StepFunc, Spec.Step and what makes an action
    validatable.
  - action.go (link state and deletion, flaps, MTU, addresses, routes,
    sysctls, processes, impairments, bridge port flags, WaitFor),
    action_l2.go (FDB entries, enslaving, VXLAN FDB),
    action_route.go (multipath routes), action_veth.go (links added at run
    time), ruleaction.go (firewall rules turned on and off).

Checks and their plumbing (the checks themselves are in package assert):
  - spec.go: CheckFunc, Result and Verdict, what a check is and returns;
    Spec.Check adds one.
  - lifecycle.go: Run, RunOptions, Outcome and CheckOutcome, the statuses,
    and how each step and check is run, timed and reported.
  - parallel.go: Spec.Parallel, checks run concurrently between steps.
  - checkref.go: Declare and CheckRefs, the names a check refers to, which
    Validate checks; evidence.go: BoundText for long evidence.
  - exclusive.go: InconclusiveError and the machine lock (Exclusive) that
    timing-sensitive checks take.
  - registry.go: Register and Registered, the scenarios vtest run sees.

The reference (routing, NAT, firewall, link kinds, steps) is in docs/model.md
of the repository; checks are in package assert.
*/
package scenario
