package runner

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/vtest-dev/vtest/scenario"
)

// BenchmarkRunHundredThousandChecks runs 1000 scenarios of 100 checks
// each (no nodes: nothing is built, so it needs no privileges), every
// scenario failing 10 of its checks, and reports the heap the finished
// run's Result still holds ("result-KiB", measured after a collection with
// the Result alive): the Summary's counts and its first MaxFailed failed
// runs, not one entry per failed scenario.
func BenchmarkRunHundredThousandChecks(b *testing.B) {
	const scenarios, checks = 1000, 100
	specs := make([]*scenario.Spec, scenarios)
	for i := range specs {
		s := scenario.Define(fmt.Sprintf("s%04d", i), "")
		for c := range checks {
			s.Check(fmt.Sprintf("check %d", c), func(context.Context, *scenario.Network) scenario.Result {
				if c%10 == 9 {
					return scenario.Result{Err: fmt.Errorf("%s check %d: no reply", s.Name, c), Evidence: "64 bytes from 10.0.0.2"}
				}
				return scenario.Result{Evidence: "64 bytes from 10.0.0.2"}
			})
		}
		specs[i] = s
	}
	var held uint64
	for b.Loop() {
		before := heapInuse()
		res := Run(context.Background(), specs, Options{Parallel: 2})
		after := heapInuse()
		if got := res.Summary.Counts[scenario.Fail]; got != scenarios {
			b.Fatalf("%d scenarios failed, want %d", got, scenarios)
		}
		held += after - min(after, before)
		runtime.KeepAlive(res)
	}
	b.ReportMetric(float64(held)/1024/float64(b.N), "result-KiB")
}
