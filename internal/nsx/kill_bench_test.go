package nsx

import "testing"

// BenchmarkProcessScan measures the pass over /proc that teardown makes to
// find the processes in a scenario's namespaces (none here).
func BenchmarkProcessScan(b *testing.B) {
	ids := map[nsID]bool{{1}: true}
	for b.Loop() {
		processesIn(ids)
	}
}
