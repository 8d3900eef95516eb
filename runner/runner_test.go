package runner

import (
	"fmt"
	"regexp"
	"slices"
	"testing"

	"github.com/vtest-dev/vtest/scenario"
)

func specs(n int) []*scenario.Spec {
	var out []*scenario.Spec
	for i := range n {
		out = append(out, scenario.Define(fmt.Sprintf("s%02d", i), ""))
	}
	return out
}

func names(ss []*scenario.Spec) []string {
	var out []string
	for _, s := range ss {
		out = append(out, s.Name)
	}
	return out
}

func TestShardsPartitionDeterministically(t *testing.T) {
	all := specs(11)
	var union []string
	for k := 1; k <= 3; k++ {
		a := names(Select(all, Options{ShardK: k, ShardN: 3}))
		b := names(Select(all, Options{ShardK: k, ShardN: 3}))
		if !slices.Equal(a, b) {
			t.Errorf("shard %d not deterministic: %v vs %v", k, a, b)
		}
		union = append(union, a...)
	}
	slices.Sort(union)
	if !slices.Equal(union, names(all)) {
		t.Errorf("shards do not partition the set: %v", union)
	}
}

func TestSelectFilterCountShuffle(t *testing.T) {
	all := specs(5)
	got := names(Select(all, Options{Run: regexp.MustCompile("s0[13]/check"), Count: 2}))
	if !slices.Equal(got, []string{"s01", "s03", "s01", "s03"}) {
		t.Errorf("filter+count = %v", got)
	}
	a := names(Select(all, Options{Shuffle: 7}))
	b := names(Select(all, Options{Shuffle: 7}))
	if !slices.Equal(a, b) || slices.Equal(a, names(all)) {
		t.Errorf("shuffle with a seed must be reproducible and shuffle: %v %v", a, b)
	}
	if sc, ch := splitRun(regexp.MustCompile("s01/reach")); !sc.MatchString("s01") || ch == nil || !ch.MatchString("a reaches b") || ch.MatchString("other") {
		t.Error("check filter")
	}
	if _, ch := splitRun(regexp.MustCompile("nat")); ch != nil {
		t.Error("a pattern without / filtered checks")
	}
}

func TestExitCode(t *testing.T) {
	for _, tc := range []struct {
		st   []scenario.Status
		want int
	}{
		{[]scenario.Status{scenario.Pass, scenario.Skip}, ExitPass},
		{[]scenario.Status{scenario.Pass, scenario.Fail}, ExitFail},
		{[]scenario.Status{scenario.Skip, scenario.Interrupted}, ExitFail},
		{[]scenario.Status{scenario.Skip, scenario.Skip}, ExitAllSkip},
	} {
		r := &Result{}
		for _, s := range tc.st {
			r.Summary.Add(scenario.Outcome{Status: s})
		}
		if got := r.ExitCode(); got != tc.want {
			t.Errorf("%v: exit %d, want %d", tc.st, got, tc.want)
		}
	}
}

func TestParseShardFromCI(t *testing.T) {
	t.Setenv("CI_NODE_INDEX", "")
	t.Setenv("JOB_COMPLETION_INDEX", "2")
	t.Setenv("VTEST_SHARDS", "4")
	if k, n, err := parseShard(""); err != nil || k != 3 || n != 4 {
		t.Errorf("JOB_COMPLETION_INDEX=2 of 4 → %d/%d %v, want 3/4", k, n, err)
	}
	if _, _, err := parseShard("0/4"); err == nil {
		t.Error("0/4 accepted")
	}
}
