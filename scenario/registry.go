package scenario

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
)

var registry struct {
	mu    sync.Mutex
	specs []*Spec
	// where is the file:line of each name's Register call.
	where map[string]string
	errs  []error
}

// Register adds a scenario to the process-wide registry that vtest's runner
// reads. Scenario packages call it from init. A second scenario of the same
// name is not added: RegistrationError reports it, naming both Register
// calls, and vtest run prints that and exits 2 before running anything.
func Register(s *Spec) {
	at := "an unknown place"
	if _, file, line, ok := runtime.Caller(1); ok {
		at = fmt.Sprintf("%s:%d", file, line)
	}
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if registry.where == nil {
		registry.where = map[string]string{}
	}
	if first, dup := registry.where[s.Name]; dup {
		registry.errs = append(registry.errs, fmt.Errorf("scenario %q is registered twice: at %s and at %s (fix: give one of them another name)", s.Name, first, at))
		return
	}
	registry.where[s.Name] = at
	registry.specs = append(registry.specs, s)
}

// RegistrationError reports the scenarios registered more than once (nil if
// none was), each naming the file and line of both Register calls.
func RegistrationError() error {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return errors.Join(registry.errs...)
}

// Registered returns the registered scenarios in registration order.
func Registered() []*Spec {
	registry.mu.Lock()
	defer registry.mu.Unlock()
	return append([]*Spec(nil), registry.specs...)
}
