package reports

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/vtest-dev/vtest/scenario"
)

// TestHugeEvidenceKeepsJUnitValid: a check that returns 10 MiB of evidence
// and a 10 MiB error (a dump of a big table, say) yields a JUnit report of
// bounded size that xmllint accepts against both schemas, in both forms,
// and that says how much was cut. Before evidence was bounded, the report
// was 22 MB and xmllint refused it (huge text node).
func TestHugeEvidenceKeepsJUnitValid(t *testing.T) {
	huge := strings.Repeat("row 0123456789 <&> ünïcødé\n", 10<<20/29)
	s := scenario.Define("huge-evidence", "a check that returns 10 MiB")
	s.Check("dump", func(context.Context, *scenario.Network) scenario.Result {
		return scenario.Result{Err: errors.New("table differs:\n" + huge), Evidence: huge}
	})
	s.Check("fine", func(context.Context, *scenario.Network) scenario.Result {
		return scenario.Result{Evidence: huge}
	})
	// No nodes: nothing is built, so this needs no privileges.
	o := scenario.Run(context.Background(), s, scenario.RunOptions{})
	if len(o.Checks) != 2 || o.Checks[0].Status != scenario.Fail || o.Checks[1].Status != scenario.Pass {
		t.Fatalf("outcome = %s %s: %+v", o.Status, o.Message, o.Checks)
	}
	dir, _ := filepath.Abs("../../shared/schemas")
	_, schemaErr := os.Stat(dir)
	_, lintErr := exec.LookPath("xmllint")
	for _, strict := range []bool{false, true} {
		var b bytes.Buffer
		if err := WriteJUnit(&b, []scenario.Outcome{o}, Plan([]*scenario.Spec{s}), Meta{Start: time.Now(), Hostname: "h"}, JUnitOptions{Strict: strict}); err != nil {
			t.Fatal(err)
		}
		// Two checks, each with evidence (twice for the failed one:
		// its failure body and its system-out) and a message.
		if limit := 6 * (scenario.MaxEvidence + 1024); b.Len() > limit {
			t.Errorf("strict=%v: JUnit is %d bytes; want at most %d", strict, b.Len(), limit)
		}
		if !strings.Contains(b.String(), "vtest cut") || !strings.Contains(b.String(), "MiB) here") {
			t.Errorf("strict=%v: the report does not say what was cut", strict)
		}
		if schemaErr != nil || lintErr != nil {
			t.Logf("xmllint or ../shared/schemas missing: well-formedness and size only")
			continue
		}
		f := filepath.Join(t.TempDir(), "r.xml")
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		schemas := []string{"jenkins-junit-10.xsd"}
		if strict {
			schemas = append(schemas, "windyroad-JUnit.xsd")
		}
		for _, xsd := range schemas {
			if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(dir, xsd), f).CombinedOutput(); err != nil {
				t.Errorf("strict=%v, %s: %v\n%.2000s", strict, xsd, err, out)
			}
		}
	}
}

// TestManyChecksKeepJUnitValid: the strict form gathers every check's
// evidence in the testsuite's system-out; 200 checks with the most
// evidence each (12.5 MiB) still give a testsuite xmllint accepts.
func TestManyChecksKeepJUnitValid(t *testing.T) {
	ev := strings.Repeat("x", scenario.MaxEvidence-1) + "\n"
	o := scenario.Outcome{Scenario: "many", Status: scenario.Pass}
	for i := 0; i < 200; i++ {
		o.Checks = append(o.Checks, scenario.CheckOutcome{Name: fmt.Sprintf("check %d", i), Status: scenario.Pass, Evidence: ev})
	}
	o.KernelLog = strings.Repeat("[    1.000000] kernel says\n", 12<<20/27)
	var b bytes.Buffer
	if err := WriteJUnit(&b, []scenario.Outcome{o}, nil, Meta{Start: time.Now(), Hostname: "h"}, JUnitOptions{Strict: true}); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(b.String(), "vtest cut"); n != 2 {
		t.Errorf("%d notes of cut text; want 2 (system-out and system-err)", n)
	}
	dir, _ := filepath.Abs("../../shared/schemas")
	if _, err := os.Stat(dir); err != nil {
		t.Skipf("schemas not found at %s (../shared is absent)", dir)
	}
	if _, err := exec.LookPath("xmllint"); err != nil {
		t.Skip("xmllint not installed")
	}
	f := filepath.Join(t.TempDir(), "r.xml")
	if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, xsd := range []string{"jenkins-junit-10.xsd", "windyroad-JUnit.xsd"} {
		if out, err := exec.Command("xmllint", "--noout", "--schema", filepath.Join(dir, xsd), f).CombinedOutput(); err != nil {
			t.Errorf("%s: %v\n%.2000s", xsd, err, out)
		}
	}
}

// TestConsoleEscapesWhatATerminalActsOn: names, messages and evidence that
// carry escape sequences, NUL, CR or invalid UTF-8 (from a run recorded
// before names were validated, or from what a check saw) reach the
// terminal escaped; the console's own colours still work.
func TestConsoleEscapesWhatATerminalActsOn(t *testing.T) {
	outcomes := hostile()
	outcomes[0].Checks[0].Evidence = "payload \x1b]0;owned\x07 \r\xff end"
	outcomes[0].Notes = []string{"note \x1b[2J"}
	var b bytes.Buffer
	c := &Console{W: &b, Color: true, Verbose: true, Live: true, Total: len(outcomes)}
	for _, o := range outcomes {
		c.Start(o.Scenario)
		c.Done(o)
	}
	c.Summary(Summarize(outcomes, time.Second))
	out := b.String()
	// What the console writes itself: colours and the progress line's
	// clearing.
	own := strings.NewReplacer("\x1b[32m", "", "\x1b[31m", "", "\x1b[33m", "", "\x1b[35m", "", "\x1b[0m", "", "\r\x1b[K", "").Replace(out)
	if i := strings.IndexAny(own, "\x00\x01\x07\x1b\r\x1f"); i >= 0 || !utf8.ValidString(own) {
		t.Errorf("raw control bytes or invalid UTF-8 reach the terminal (at %d): %q", i, own)
	}
	for _, want := range []string{`\x1b[1mbold`, `payload \x1b]0;owned\a \r\xff end`, `note \x1b[2J`, "\x1b[31mFAIL\x1b[0m"} {
		if !strings.Contains(out, want) {
			t.Errorf("console lacks %q:\n%q", want, out)
		}
	}
}
