package runner

import (
	"context"
	"sync"
)

// machine schedules scenarios around timing-sensitive checks: a check that
// asks for the machine (scenario.Exclusive) gets it once every other
// scenario of the run has finished or is itself waiting for it, and no
// scenario starts while such a request waits or runs. Scenarios that never
// ask run in parallel as before.
type machine struct {
	mu      sync.Mutex
	cond    *sync.Cond
	running int   // scenarios in flight, not counting waiting requests
	pending int   // requests waiting for the machine
	holder  *slot // the scenario that has the machine
}

func newMachine() *machine {
	m := &machine{}
	m.cond = sync.NewCond(&m.mu)
	return m
}

// slot is one scenario's place on the machine.
type slot struct {
	m       *machine
	holding bool
	ended   bool
}

// wake makes waiters re-check their condition when ctx ends.
func (m *machine) wake(ctx context.Context) (stop func() bool) {
	return context.AfterFunc(ctx, func() {
		m.mu.Lock()
		m.cond.Broadcast()
		m.mu.Unlock()
	})
}

// start waits until no request for the machine is waiting or running, and
// counts the scenario in flight.
func (m *machine) start(ctx context.Context) (*slot, error) {
	defer m.wake(ctx)()
	m.mu.Lock()
	defer m.mu.Unlock()
	for m.holder != nil || m.pending > 0 {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		m.cond.Wait()
	}
	m.running++
	return &slot{m: m}, nil
}

// end takes the scenario off the machine; it is safe to call more than once
// (a scenario abandoned by the runner ends before its goroutine does).
func (s *slot) end() {
	m := s.m
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.ended {
		return
	}
	s.ended = true
	if s.holding {
		s.holding = false
		m.holder = nil
	} else {
		m.running--
	}
	m.cond.Broadcast()
}

// Acquire implements scenario.Machine.
func (s *slot) Acquire(ctx context.Context) (func(), error) {
	m := s.m
	defer m.wake(ctx)()
	m.mu.Lock()
	defer m.mu.Unlock()
	if s.holding || s.ended {
		return func() {}, nil // nested, or abandoned already
	}
	m.running--
	m.pending++
	m.cond.Broadcast()
	for m.running > 0 || m.holder != nil {
		if err := ctx.Err(); err != nil {
			m.pending--
			m.running++
			m.cond.Broadcast()
			return nil, err
		}
		m.cond.Wait()
	}
	m.pending--
	m.holder, s.holding = s, true
	var once sync.Once
	return func() {
		once.Do(func() {
			m.mu.Lock()
			defer m.mu.Unlock()
			if !s.holding {
				return
			}
			s.holding = false
			m.holder = nil
			m.running++
			m.cond.Broadcast()
		})
	}, nil
}
