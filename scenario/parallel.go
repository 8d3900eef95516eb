package scenario

import (
	"context"
	"fmt"
	"sync"
)

// DefaultCheckParallelism bounds the checks of a parallel scenario that run
// at once when RunOptions.CheckParallelism is 0. Checks mostly wait on the
// network (a ping's reply, a connection), so the bound is above the CPU
// count.
const DefaultCheckParallelism = 8

// Parallel declares the scenario's checks independent of each other: Run
// starts them concurrently, up to RunOptions.CheckParallelism at a time.
// Steps stay barriers: every check before a step has returned before the
// step runs, and no check after it starts before it has returned. Reports
// keep the definition order. A check that asks for the machine (Exclusive)
// still measures alone: no other check of its scenario runs meanwhile.
//
// A check is independent when it neither changes the network nor depends
// on another check having run (SetValue/Value between checks, a process one
// check starts and another reads): such dependencies belong in steps.
func (s *Spec) Parallel() *Spec {
	s.parallel = true
	return s
}

// IsParallel reports whether Parallel was called.
func (s *Spec) IsParallel() bool { return s.parallel }

func (o RunOptions) checkParallelism() int {
	if o.CheckParallelism > 0 {
		return o.CheckParallelism
	}
	return DefaultCheckParallelism
}

// runBatch runs consecutive independent checks concurrently, at most
// limit at a time, and returns their outcomes in the order given. It stops
// starting checks once ctx ends; those not started have no outcome (the
// returned slice is shorter). emit is called in order as soon as a check
// and every one before it have returned.
func runBatch(ctx context.Context, n *Network, batch []CheckSpec, opt RunOptions, limit int, emit func(CheckOutcome)) []CheckOutcome {
	g := newBatchGate(ctx)
	ctx = WithMachine(ctx, g)
	outs := make([]CheckOutcome, len(batch))
	done := make([]bool, len(batch))
	var mu sync.Mutex // guards done and next
	next := 0
	finish := func(i int, co CheckOutcome) {
		mu.Lock()
		defer mu.Unlock()
		outs[i], done[i] = co, true
		for next < len(batch) && done[next] {
			if emit != nil {
				emit(outs[next])
			}
			next++
		}
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	started := 0
	for i, c := range batch {
		if ctx.Err() != nil {
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil || !g.start(ctx) {
			break
		}
		started++
		wg.Go(func() {
			defer func() { <-sem }()
			co := runCheck(ctx, n, c, opt)
			g.end()
			co.Kind = c.kind()
			finish(i, co)
		})
	}
	wg.Wait()
	return outs[:started]
}

// batchGate is the Machine the checks of a parallel batch see: Acquire
// waits until no other check of the batch runs (holding back those not
// started yet), then asks the runner's machine, if any, so that the check
// measures alone in its scenario and in the run.
type batchGate struct {
	parent Machine // the runner's, or nil
	mu     sync.Mutex
	cond   *sync.Cond
	// running counts the batch's checks that run and do not wait for
	// the machine.
	running int
	// exclusive is set while a check holds the machine or waits for the
	// others to finish.
	exclusive bool
	turn      chan struct{} // one exclusive check at a time
}

func newBatchGate(ctx context.Context) *batchGate {
	parent, _ := ctx.Value(machineKey{}).(Machine)
	g := &batchGate{parent: parent, turn: make(chan struct{}, 1)}
	g.cond = sync.NewCond(&g.mu)
	return g
}

// wait blocks on the gate's condition until cond holds or ctx ends; it
// is called with g.mu held.
func (g *batchGate) wait(ctx context.Context, cond func() bool) error {
	stop := context.AfterFunc(ctx, func() {
		g.mu.Lock()
		g.cond.Broadcast()
		g.mu.Unlock()
	})
	defer stop()
	for !cond() {
		if err := ctx.Err(); err != nil {
			return err
		}
		g.cond.Wait()
	}
	return nil
}

// start counts a check in before it starts; it waits while a check of the
// batch holds the machine. It returns false when ctx ended.
func (g *batchGate) start(ctx context.Context) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.wait(ctx, func() bool { return !g.exclusive }) != nil {
		return false
	}
	g.running++
	return true
}

// end counts a check out once it has returned.
func (g *batchGate) end() {
	g.mu.Lock()
	g.running--
	g.cond.Broadcast()
	g.mu.Unlock()
}

// Acquire implements Machine.
func (g *batchGate) Acquire(ctx context.Context) (func(), error) {
	// The caller no longer counts as running while it waits, so that two
	// checks asking at once do not wait for each other.
	g.mu.Lock()
	g.running--
	g.cond.Broadcast()
	g.mu.Unlock()
	rejoin := func() {
		g.mu.Lock()
		g.running++
		g.mu.Unlock()
	}
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		rejoin()
		return nil, ctx.Err()
	}
	g.mu.Lock()
	g.exclusive = true
	err := g.wait(ctx, func() bool { return g.running == 0 })
	g.mu.Unlock()
	giveBack := func() {
		g.mu.Lock()
		g.exclusive = false
		g.running++
		g.cond.Broadcast()
		g.mu.Unlock()
		<-g.turn
	}
	if err != nil {
		giveBack()
		return nil, fmt.Errorf("waiting for the other checks of the scenario: %w", err)
	}
	release := func() {}
	if g.parent != nil {
		if release, err = g.parent.Acquire(ctx); err != nil {
			giveBack()
			return nil, err
		}
	}
	var once sync.Once
	return func() { once.Do(func() { release(); giveBack() }) }, nil
}

// scope says what "alone" means for Exclusive's note.
func (g *batchGate) scope() string {
	if g.parent == nil {
		return "ran alone in its scenario: no other of its checks running; no vtest runner schedules other scenarios"
	}
	return ""
}
