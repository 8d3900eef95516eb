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
	note := neighbourTableNote(full, 1024)
	if !strings.Contains(note, "holds 1016 entries of at most 1024") || !strings.Contains(note, "refused 47 since boot") {
		t.Errorf("nearly full table: %q", note)
	}
	if note := neighbourTableNote(strings.ReplaceAll(stat, "%s", "00000010"), 1024); note != "" {
		t.Errorf("table with 16 entries: %q, want no note", note)
	}
	if note := neighbourTableNote("garbage", 1024); note != "" {
		t.Errorf("unreadable stat: %q", note)
	}
}
