package assert

import (
	"errors"
	"testing"

	"github.com/vtest-dev/vtest/scenario"
)

type skipT struct{ skipped, failed bool }

func (s *skipT) Errorf(string, ...any) { s.failed = true }
func (s *skipT) Skipf(string, ...any)  { s.skipped = true }

type plainT struct{ failed bool }

func (p *plainT) Errorf(string, ...any) { p.failed = true }

// TestReportInconclusive: in go test, an inconclusive result skips the
// test (as vtest run skips the check), fails it under
// VTEST_INCONCLUSIVE=fail or where t cannot skip; a real failure fails.
func TestReportInconclusive(t *testing.T) {
	inconclusive := &scenario.InconclusiveError{Reason: "machine too busy"}
	s := &skipT{}
	if report(s, nil, inconclusive) || !s.skipped {
		t.Errorf("inconclusive: skipped %v, want a skip", s.skipped)
	}
	s = &skipT{}
	if report(s, nil, errors.New("not reachable")) || s.skipped || !s.failed {
		t.Errorf("failure: skipped %v failed %v, want a failure", s.skipped, s.failed)
	}
	p := &plainT{}
	if report(p, nil, inconclusive) || !p.failed {
		t.Error("inconclusive where t cannot skip: want a failure")
	}
	t.Setenv("VTEST_INCONCLUSIVE", "fail")
	s = &skipT{}
	if report(s, nil, inconclusive) || s.skipped || !s.failed {
		t.Errorf("VTEST_INCONCLUSIVE=fail: skipped %v failed %v, want a failure", s.skipped, s.failed)
	}
}
