package assert

import (
	"strings"
	"testing"
)

func TestNeighbourTableNote(t *testing.T) {
	const stat = `entries  allocs   destroys hash_grows lookups  hits     res_failed rcv_probes_mcast rcv_probes_ucast periodic_gc_runs forced_gc_runs unresolved_discards table_fulls
%s 000018ed 00001ce2 00000002   00080cee 0002a396 00000000   00000000         00000000         000000c5         00000024       00000000            0000001a
%s 000019de 000015e9 00000006   000a7267 000339b4 00000001   00000000         00000000         00000000         0000001b       00000000            00000015
`
	full := strings.ReplaceAll(stat, "%s", "000003f8") // 1016 entries
	note := tableOf(full, 1024).note()
	if !strings.Contains(note, "holds 1016 entries of at most 1024") || !strings.Contains(note, "refused 47 since boot") {
		t.Errorf("nearly full table: %q", note)
	}
	if note := tableOf(strings.ReplaceAll(stat, "%s", "00000010"), 1024).note(); note != "" {
		t.Errorf("table with 16 entries: %q, want no note", note)
	}
	if note := tableOf("garbage", 1024).note(); note != "" {
		t.Errorf("unreadable stat: %q", note)
	}
}

func tableOf(stat string, limit int) neighbourTable {
	t := parseNeighbourStat(stat)
	t.limit = limit
	return t
}

// TestNeighbourTableInconclusive: a failure is inconclusive only when the
// kernel refused entries while the check ran, not because it did before.
func TestNeighbourTableInconclusive(t *testing.T) {
	const stat = `entries  allocs   destroys table_fulls
%s 000018ed 00001ce2 %s
%s 000019de 000015e9 00000015
`
	at := func(entries, fulls string) neighbourTable {
		r := strings.NewReplacer("%s", entries)
		s := strings.Replace(stat, "%s", entries, 1)
		s = strings.Replace(s, "%s", fulls, 1)
		return tableOf(r.Replace(s), 1024)
	}
	before := at("00000400", "0000001a") // 1024 entries, 26+21 refused
	if got := at("00000400", "0000001d").inconclusive(before); !strings.Contains(got, "refused 3 new entries while the check ran (1024 of at most 1024") {
		t.Errorf("refusals during the check: %q", got)
	}
	if got := at("00000400", "0000001a").inconclusive(before); got != "" {
		t.Errorf("no refusal during the check (only before): %q, want none", got)
	}
	if got := at("00000400", "0000001d").inconclusive(neighbourTable{}); got != "" {
		t.Errorf("unknown before: %q, want none", got)
	}
	if got := tableOf("garbage", 1024).inconclusive(before); got != "" {
		t.Errorf("unreadable after: %q, want none", got)
	}
}
