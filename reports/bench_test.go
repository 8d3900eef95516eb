package reports

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

// BenchmarkReportsAtScale streams a run of 100 scenarios of 1000 checks
// (≈1.2 MiB of JUnit each) through the JUnit file, JSON lines and KTAP
// reporters, as the runner does. It reports the time per scenario, the
// JUnit report's size and the most heap in use after a collection at the
// end of a scenario (MiB-heap): flat, whatever the number of scenarios.
func BenchmarkReportsAtScale(b *testing.B) {
	const scenarios = 100
	for range b.N {
		dir := b.TempDir()
		jf, err := os.Create(filepath.Join(dir, "events.json"))
		if err != nil {
			b.Fatal(err)
		}
		kf, err := os.Create(filepath.Join(dir, "run.ktap"))
		if err != nil {
			b.Fatal(err)
		}
		junit := filepath.Join(dir, "junit.xml")
		rep := Multi{NewKTAP(kf, scenarios), &JUnitFile{Path: junit, Meta: Meta{Start: time.Now()}}, JSONLines{W: jf}}
		var sum Summary
		var most uint64
		start := time.Now()
		for i := range scenarios {
			o := bigScenario(fmt.Sprintf("star%d", i), 1000)
			rep.Start(o.Scenario)
			for _, c := range o.Checks {
				rep.Check(o.Scenario, c)
			}
			rep.Done(o)
			sum.Add(o)
			if i%10 == 9 {
				b.StopTimer()
				runtime.GC()
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				most = max(most, m.HeapInuse)
				b.StartTimer()
			}
		}
		if err := rep.Finish(sum); err != nil {
			b.Fatal(err)
		}
		elapsed := time.Since(start)
		jf.Close()
		kf.Close()
		info, err := os.Stat(junit)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(elapsed.Milliseconds())/scenarios, "ms/scenario")
		b.ReportMetric(float64(info.Size())/(1<<20), "MiB-junit")
		b.ReportMetric(float64(most)/(1<<20), "MiB-heap")
	}
}
