/*
Package assert holds checks that run inside a scenario's namespaces and
return evidence: what was sent, what came back, what was measured.

Every check comes in two forms:

  - a scenario check built from node names, recorded by the runner:
    s.Check("client reaches server", assert.Reach("client", "server"))
  - a function returning a result and an error, for direct use:
    r, err := assert.Ping(ctx, client, server.IPv4())

In go test, any scenario check is a test helper through Check (and
require.Check, which stops the test):

	assert.Check(t, network, assert.Reach("client", "server"))

Check reports exactly as vtest run does: pass, failure, skip, and an
inconclusive result (skipped, or failed under VTEST_INCONCLUSIVE=fail).
Reachable, Unreachable and CanConnect stay as shortcuts taking nodes; the
other hand-written helpers are deprecated wrappers over Check. Package
require is generated from this one. The helpers take any value with
testify's method set, so *testing.T, testify's *assert.CollectT and test
doubles all work.

A target given by node name is the address of that node on the segment it
shares with the source, else its first address (IPv6 with the IPv6 option);
give an address to aim at a particular one.

# Check families

	family               scenario check             direct
	reachability         Reach, NoReach (Because)   Ping, Isolated
	UDP / TCP            Echoes, Connects,          UDPEcho, TCPConnect,
	                     ConnectOutcome             TCPAttempt
	forwarding, paths    Forwarded, HopIs, Walked   Trace, TraceHop, WalkPath
	NAT                  Masqueraded, SeenAs,       SeenSource
	                     PortForwarded
	firewall             Firewall, Counted,         PortVerdict
	                     CountedExactly
	ARP / NDP            ARPAnswered, ARPUnanswered ARP
	crafted frames       Frames, Deliver (step)     FramesTo
	MTU                  PMTU                       PMTUProbe
	timing               LatencyWithin, LossWithin  Latency
	throughput, ECMP     Rate, Spread               Throughput, FlowSpread
	UDP stream           UDPStream                  StreamUDP
	own packets at ends  SeenAt                     PacketsSeenAt
	reach matrix         Matrix, AllReach           ReachMatrix
	kernel state         NeighbourEntry, FDBEntry,  Neighbour, FDBLookup,
	                     Routes, LinkIs, SysctlIs,  RouteLookup, LinkStatus,
	                     ConntrackEntry,            SysctlValue, Conntrack,
	                     SelfFDBEntry               VXLANFDBLookup
	counters             MarkCounters (step),       Counters, CounterDelta
	                     CountersRose
	over time            Eventually, Consistently   Converge, Hold
	in go test           Check (any of the above); shortcuts Reachable,
	                     Unreachable, CanConnect; Converges, Holds,
	                     CountersRoseDuring around Go code

# How a connection ended

One vocabulary, Verdict, answers "what happened to this connection or
probe?" for TCPAttempt, ConnectOutcome, PortVerdict, Firewall,
PortForwarded, Isolated and NoReach: Allowed, Refused (a reset, or port
unreachable from the destination), Rejected (any other ICMP error; the
result's ICMPError names its type, code and sender), Filtered (silence) and
NoRoute (the source could not send). NoReach(from, to, Because(v)) requires
why the destination is not reached. A value that is no verdict, or that
Expect's check does not know, is a Validate error.

Options (Count, Timeout, IPv6, Port, Expect, …) tune a check; each check's
documentation says which it reads, and Validate (or Check) refuses an
option a scenario check does not read.

Frames counts the frames that arrive at the observed interface, never those
it sends: to see what a router forwards out of an interface, observe at the
next hop's interface. A Match selects frames by fields; Func adds any test
gopacket can decode, such as a VXLAN VNI (see the example of Match).

A check that cannot fail is a defect: the tests of this package build a
broken network for every check and show that it fails there. The prose
reference is docs/checks.md in the repository.
*/
package assert
