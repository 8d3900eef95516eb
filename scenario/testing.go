package scenario

import (
	"context"
	"errors"
	"testing"

	"github.com/vtest-dev/vtest/internal/nsx"
)

// New builds the scenario for a test, in the style of httptest.NewServer: it
// fails the test with a readable message if the definition is wrong or the
// build fails, skips it if the kernel lacks a feature the scenario needs or
// the process lacks privileges, and registers teardown with t.Cleanup. It
// is safe with t.Parallel: every network lives in namespaces of its own.
func New(tb testing.TB, s *Spec) *Network {
	tb.Helper()
	p, err := s.plan()
	if err != nil {
		tb.Fatalf("invalid scenario:\n%v", err)
	}
	// Without privileges nothing can be built (not even the feature
	// probes' scratch namespaces): a skip with the reason and the fix, as
	// vtest run says it.
	if err := nsx.CheckPrivileges(); err != nil {
		tb.Skipf("scenario %q: %v (run go test -exec sudo, or as root; nothing was created)", s.Name, err)
	}
	for _, f := range s.Features() {
		if err := f.Probe(); err != nil {
			if errors.Is(err, ErrNotSupported) {
				tb.Skipf("scenario %q needs %s: %v", s.Name, f, err)
			}
			tb.Fatalf("scenario %q: %v", s.Name, err)
		}
	}
	ctx := context.Background()
	if d, ok := tb.(interface{ Context() context.Context }); ok {
		ctx = d.Context()
	}
	n, err := build(context.WithoutCancel(ctx), p)
	if err != nil {
		tb.Fatalf("%v", err)
	}
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Errorf("teardown: %v", err)
		}
	})
	return n
}
