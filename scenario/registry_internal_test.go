package scenario

import (
	"regexp"
	"testing"
)

// TestRegisterTwice: a second scenario of the same name is not added and is
// reported with both Register calls' places, without a panic.
func TestRegisterTwice(t *testing.T) {
	registry.mu.Lock()
	specs, where, errs := registry.specs, registry.where, registry.errs
	registry.specs, registry.where, registry.errs = nil, nil, nil
	registry.mu.Unlock()
	t.Cleanup(func() {
		registry.mu.Lock()
		registry.specs, registry.where, registry.errs = specs, where, errs
		registry.mu.Unlock()
	})
	Register(Define("twice", "first"))
	Register(Define("other", ""))
	Register(Define("twice", "second"))
	if got := len(Registered()); got != 2 {
		t.Errorf("Registered() has %d scenarios, want 2", got)
	}
	err := RegistrationError()
	want := regexp.MustCompile(`scenario "twice" is registered twice: at \S+registry_internal_test\.go:20 and at \S+registry_internal_test\.go:22 \(fix: `)
	if err == nil || !want.MatchString(err.Error()) {
		t.Errorf("RegistrationError() = %v, want it to match %s", err, want)
	}
}
