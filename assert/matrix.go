package assert

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vtest-dev/vtest/scenario"
)

// MatrixResult is the evidence of a connectivity matrix: every ordered
// pair of the nodes, whether it reached and whether it should have.
type MatrixResult struct {
	// Nodes are the nodes in the order given, set after set.
	Nodes []string
	// Set is the index of each node's set.
	Set   []int
	Pairs []MatrixPair
	// Wrong counts the pairs that did not do as wanted.
	Wrong   int
	Timeout time.Duration
	Elapsed time.Duration

	walk     *Walk // of the first pair that should reach and did not
	unwalked int   // such pairs beyond matrixMaxWalks
}

// MatrixPair is one ordered pair of a matrix.
type MatrixPair struct {
	From, To string
	Addr     netip.Addr
	// Want is whether To should answer From (same set).
	Want bool
	// Sent and Received count From's echo requests and To's replies.
	Sent, Received int
	// Reached is whether every request was answered.
	Reached bool
	// Why says how an unreached pair failed: the route lookup, or the
	// kernel's refusal to send.
	Why string
	// Break is, for a pair that should reach and did not, the first place
	// the path walk found the network broken ("" when it found none, or
	// when the pair was not walked: see matrixMaxWalks).
	Break string
}

// ok reports whether the pair did as wanted: all replies where it should
// reach, none where it should not.
func (p MatrixPair) ok() bool {
	if p.Want {
		return p.Reached
	}
	return p.Received == 0
}

// Evidence renders the matrix as a table, rows the sources and columns
// the destinations, like Mininet's pingall: ✓ reached (as wanted),
// · isolated (as wanted), ✗ did not reach (wanted to), ! reached (wanted
// isolated); each wrong pair is then listed with why.
func (r *MatrixResult) Evidence() string {
	var b strings.Builder
	fmt.Fprintf(&b, "connectivity matrix of %d nodes, %d pairs: %d wrong; took %s of %s (✓ reached, · isolated, ✗ should reach, ! should be isolated; rows send)\n",
		len(r.Nodes), len(r.Pairs), r.Wrong, ms(r.Elapsed), ms(r.Timeout))
	w := 0
	for _, nd := range r.Nodes {
		w = max(w, len(nd))
	}
	cell := make(map[[2]string]MatrixPair, len(r.Pairs))
	for _, p := range r.Pairs {
		cell[[2]string{p.From, p.To}] = p
	}
	fmt.Fprintf(&b, "%*s", w, "")
	for _, to := range r.Nodes {
		fmt.Fprintf(&b, " %*s", w, to)
	}
	for _, from := range r.Nodes {
		fmt.Fprintf(&b, "\n%*s", w, from)
		for _, to := range r.Nodes {
			mark := "-"
			if p, ok := cell[[2]string{from, to}]; ok {
				switch {
				case p.Want && p.Reached:
					mark = "✓"
				case p.Want:
					mark = "✗"
				case p.Received == 0:
					mark = "·"
				default:
					mark = "!"
				}
			}
			fmt.Fprintf(&b, " %*s", w, mark)
		}
	}
	for _, p := range r.Pairs {
		if !p.ok() {
			want := "should reach"
			if !p.Want {
				want = "should be isolated"
			}
			fmt.Fprintf(&b, "\n%s → %s (%s) %s: %d sent, %d received; %s", p.From, p.To, p.Addr, want, p.Sent, p.Received, p.Why)
			if p.Break != "" {
				fmt.Fprintf(&b, "; walk: %s", p.Break)
			}
		}
	}
	if r.walk != nil {
		fmt.Fprintf(&b, "\n%s", r.walk.Evidence())
	}
	if r.unwalked > 0 {
		fmt.Fprintf(&b, "\n%d more pairs that should reach were not walked (at most %d are)", r.unwalked, matrixMaxWalks)
	}
	return b.String()
}

// matrixMaxWalks bounds the pairs a failed matrix walks: each walk reads
// the state of every node on the path.
const matrixMaxWalks = 16

var matrixDefaults = Options{Count: 1, Interval: 10 * time.Millisecond, Timeout: time.Second}

// matrixMaxNodes bounds a matrix: its pairs run at once, each with a
// socket.
const matrixMaxNodes = 32

// ReachMatrix pings, from every node of sets to every other, all pairs at
// once under one deadline (Timeout, default 1 s, for the whole matrix):
// Count echo requests (default 1, Interval apart) from an ICMP datagram
// socket of the source, so concurrent pairs never count each other's
// replies. Nodes of the same set must reach each other (every request
// answered); nodes of different sets must not (no reply at all). One set
// is Mininet's pingall. A pair is aimed at the address the source would
// use for the destination (Node.AddrFor; IPv6 with the IPv6 option). The
// evidence is the whole matrix as a table, with each wrong pair's route
// or refusal.
func ReachMatrix(ctx context.Context, n *scenario.Network, sets [][]string, opts ...Option) (*MatrixResult, error) {
	o, err := build(matrixDefaults, opts)
	if err != nil {
		return nil, fmt.Errorf("matrix: %w", err)
	}
	if p := matrixProblem(sets); p != "" {
		return nil, errors.New("matrix: " + p)
	}
	start := time.Now()
	r := &MatrixResult{Timeout: o.Timeout}
	defer func() { r.Elapsed = time.Since(start) }()
	nodes := map[string]*scenario.Node{}
	for i, set := range sets {
		for _, name := range set {
			nd, ok := n.Lookup(name)
			if !ok {
				return r, fmt.Errorf("matrix: scenario %q has no node %q", n.Spec().Name, name)
			}
			nodes[name] = nd
			r.Nodes, r.Set = append(r.Nodes, name), append(r.Set, i)
		}
	}
	for i, from := range r.Nodes {
		for j, to := range r.Nodes {
			if i != j {
				r.Pairs = append(r.Pairs, MatrixPair{From: from, To: to, Want: r.Set[i] == r.Set[j]})
			}
		}
	}
	ctx, cancel := context.WithDeadline(ctx, earliest(ctx, start.Add(o.Timeout)))
	defer cancel()
	errs := make([]error, len(r.Pairs))
	var wg sync.WaitGroup
	for i := range r.Pairs {
		wg.Go(func() { errs[i] = pingPair(ctx, nodes, &r.Pairs[i], o) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return r, fmt.Errorf("matrix: %w", err)
	}
	for _, p := range r.Pairs {
		if !p.ok() {
			r.Wrong++
		}
	}
	if r.Wrong > 0 {
		r.walkUnreached(nodes)
		return r, failLines(r, "connectivity matrix: %d of %d pairs wrong", r.Wrong, len(r.Pairs))
	}
	return r, nil
}

// walkUnreached walks the pairs that should reach and did not (at most
// matrixMaxWalks), as every failing traffic check ends with the walk:
// each pair gets its first break, and the evidence ends with the whole
// walk of the first.
func (r *MatrixResult) walkUnreached(nodes map[string]*scenario.Node) {
	walked := 0
	for i := range r.Pairs {
		p := &r.Pairs[i]
		if !p.Want || p.Reached || !p.Addr.IsValid() {
			continue
		}
		if walked == matrixMaxWalks {
			r.unwalked++
			continue
		}
		walked++
		w := WalkPath(nodes[p.From], p.Addr)
		p.Break = w.Break
		if p.Break == "" {
			p.Break = "no break found"
		}
		if r.walk == nil {
			r.walk = w
		}
	}
}

// pingPair pings p.To from p.From until ctx's deadline; the error is for
// a pair that could not be tried (no address, no socket), never for one
// that did not reach.
func pingPair(ctx context.Context, nodes map[string]*scenario.Node, p *MatrixPair, o Options) error {
	from := nodes[p.From]
	dst, err := from.AddrFor(nodes[p.To], o.IPv6)
	if err != nil {
		return fmt.Errorf("%s → %s: %w", p.From, p.To, err)
	}
	p.Addr = dst
	dl, _ := ctx.Deadline()
	o.Timeout = time.Until(dl)
	if o.Timeout <= 0 {
		return fmt.Errorf("%s → %s: no time left: %w", p.From, p.To, ctx.Err())
	}
	pr, err := ping(ctx, from, dst, o)
	if pr != nil {
		p.Sent, p.Received = pr.Sent, pr.Received
		p.Why = "route: " + pr.Route
	}
	if err != nil {
		// The kernel refusing to send (no route, unreachable, a local
		// reject) is a verdict about the network; anything else means
		// the pair was not tried.
		if errors.Is(err, unix.ENETUNREACH) || errors.Is(err, unix.EHOSTUNREACH) || errors.Is(err, unix.EACCES) || errors.Is(err, unix.EPERM) {
			p.Why = "send refused: " + err.Error() + "; " + p.Why
			return nil
		}
		if ctx.Err() != nil && pr != nil {
			return nil // the deadline: what came back is the answer
		}
		return err
	}
	p.Reached = pr.Received == o.Count && o.Count > 0
	return nil
}

// matrixProblem returns what is wrong with sets, or "".
func matrixProblem(sets [][]string) string {
	seen := map[string]bool{}
	total := 0
	for i, set := range sets {
		if len(set) == 0 {
			return "set " + strconv.Itoa(i+1) + " is empty"
		}
		for _, name := range set {
			if seen[name] {
				return "node " + strconv.Quote(name) + " is named twice"
			}
			seen[name] = true
			total++
		}
	}
	switch {
	case total < 2:
		return "a matrix needs at least two nodes"
	case total > matrixMaxNodes:
		return fmt.Sprintf("%d nodes: at most %d (their %d pairs run at once)", total, matrixMaxNodes, total*(total-1))
	}
	return ""
}

// Matrix is a scenario check: every node reaches every other node of its
// set, and no node of another set (sets isolated from each other); see
// ReachMatrix. Matrix([][]string{{"h1", "h2", "h3"}}) is pingall.
func Matrix(sets [][]string, opts ...Option) scenario.CheckFunc {
	var all []string
	for _, set := range sets {
		all = append(all, set...)
	}
	refs := scenario.CheckRefs{Nodes: slices.Compact(slices.Clone(all))}
	if p := matrixProblem(sets); p != "" {
		refs.Problems = append(refs.Problems, scenario.CheckProblem{
			Problem: "assert.Matrix: " + p,
			Fix:     "give sets of distinct node names, at least two nodes in all, at most " + strconv.Itoa(matrixMaxNodes),
		})
	}
	sets = slices.Clone(sets)
	return declare("Matrix", isolationReads, opts, refs, checkFunc(func(ctx context.Context, n *scenario.Network) (Evidencer, error) {
		return ReachMatrix(ctx, n, sets, opts...)
	}))
}

// AllReach is a scenario check: every one of nodes reaches every other
// (Mininet's pingall); see ReachMatrix.
func AllReach(nodes []string, opts ...Option) scenario.CheckFunc {
	return Matrix([][]string{nodes}, opts...)
}
