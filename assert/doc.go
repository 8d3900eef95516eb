/*
Package assert holds checks that run inside a scenario's namespaces and
return evidence: what was sent, what came back, what was measured.

Every check comes in up to three forms:

  - a scenario check built from node names, recorded by the runner:
    s.Check("client reaches server", assert.Reach("client", "server"))
  - a testing helper in the style of testify, failing the test with the
    evidence and logging it on a pass: assert.Reachable(t, client, server)
  - a function returning a result and an error, for direct use:
    r, err := assert.Ping(ctx, client, server.IPv4())

Any scenario check is a testing helper through Check (and require.Check).
The helpers take any value with testify's method set, so *testing.T,
testify's *assert.CollectT and test doubles all work.

A target given by node name is the address of that node on the segment it
shares with the source, else its first address (IPv6 with the IPv6 option);
give an address to aim at a particular one.

# Check families

	family               scenario check            testing helper           direct
	reachability         Reach, NoReach            Reachable, Unreachable   Ping, Isolated
	UDP / TCP            Echoes, Connects,         CanConnect,              TCPAttempt
	                     ConnectOutcome            ConnectEndsAs
	forwarding, paths    Forwarded, HopIs,         ForwardedBy, HopAnswers, Trace, WalkPath
	                     Walked                    PathClear
	NAT                  Masqueraded, SeenAs,      SourceIs                 SeenSource
	                     PortForwarded
	firewall             Firewall, Counted,        VerdictIs
	                     CountedExactly
	ARP / NDP            ARPAnswered,              ARPResolves, ARPIgnored
	                     ARPUnanswered
	crafted frames       Frames, Deliver (step)    SeesFrames
	MTU                  PMTU                      PathMTUIs
	timing               LatencyWithin, LossWithin LatencyMeets             Latency
	throughput, ECMP     Rate, ThroughputWithin,   RateWithin, Spreads      Throughput
	                     Spread, SpreadOver
	UDP stream           UDPStream                 UDPStreamWithin          StreamUDP
	own packets at ends  SeenAt                                             PacketsSeenAt
	reach matrix         Matrix, AllReach                                   ReachMatrix
	kernel state         NeighbourEntry, FDBEntry, HasNeighbour, HasFDB,    Neighbour, Conntrack
	                     Routes, LinkIs, SysctlIs, RoutesAs, LinkStateIs,
	                     ConntrackEntry,           HasSysctl, Tracks        VXLANFDBLookup
	                     SelfFDBEntry
	counters             MarkCounters (step),      CountersRoseDuring
	                     CountersRose
	over time            Eventually, Consistently  Converges, Holds         Converge, Hold

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
