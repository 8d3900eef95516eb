package scenario

import (
	"fmt"
	"sync"
)

var registry struct {
	mu    sync.Mutex
	specs []*Spec
	names map[string]bool
}

// Register adds a scenario to the process-wide registry that vtest's runner
// reads. Scenario packages call it from init. It panics on a duplicate name,
// like flag and expvar do.
func Register(s *Spec) {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.names == nil {
		registry.names = map[string]bool{}
	}
	if registry.names[s.Name] {
		panic(fmt.Sprintf("vtest: scenario %q registered twice", s.Name))
	}
	registry.names[s.Name] = true
	registry.specs = append(registry.specs, s)
}

// Registered returns the registered scenarios in registration order.
func Registered() []*Spec {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return append([]*Spec(nil), registry.specs...)
}
