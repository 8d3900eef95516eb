package scenario

import (
	"context"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// TestValidateRefusesUnprintableNames: names that would reach a terminal
// or a report raw (NUL, escape sequences, CR, invalid UTF-8, invisible
// formatting) or that are too long for capture file names are refused at
// Validate, naming which name, which rule and the fix; the error itself
// carries no raw control bytes.
func TestValidateRefusesUnprintableNames(t *testing.T) {
	bad := []struct {
		what, name string
		rule       string
	}{
		{"NUL", "a\x00b", "control character U+0000"},
		{"escape sequence", "a\x1b[2Jb", "control character U+001B"},
		{"CR", "a\rb", "control character U+000D"},
		{"invalid UTF-8", "a\xffb", "not valid UTF-8"},
		{"right-to-left override", "a\u202eb", "invisible formatting character U+202E"},
		{"DEL", "a\x7fb", "control character U+007F"},
	}
	valid := func(define func(s *Spec)) error {
		s := Define("t", "")
		define(s)
		return s.Validate()
	}
	expect := func(t *testing.T, err error, want ...string) {
		t.Helper()
		if err == nil {
			t.Fatalf("accepted; want an error containing %q", want)
		}
		msg := err.Error()
		for _, w := range want {
			if !strings.Contains(msg, w) {
				t.Errorf("error %q lacks %q", msg, w)
			}
		}
		if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\x00\x1b\r\x7f\u202e") {
			t.Errorf("error carries raw control bytes: %q", msg)
		}
	}
	for _, b := range bad {
		t.Run(b.what, func(t *testing.T) {
			s := Define(b.name, "")
			expect(t, s.Validate(), "scenario", "name", b.rule, "fix:")
			expect(t, valid(func(s *Spec) { s.Host(b.name) }), "node #1", b.rule, "fix:")
			expect(t, valid(func(s *Spec) {
				s.Host("a")
				s.Check(b.name, func(context.Context, *Network) Result { return Result{} })
			}), "check #1", b.rule, "fix:")
			expect(t, valid(func(s *Spec) {
				s.Host("a")
				s.StepFunc(b.name, func(context.Context, *Network) error { return nil })
			}), "step #1", b.rule, "fix:")
			// Interface names were already ASCII only; the link's name
			// in the error comes out escaped too.
			expect(t, valid(func(s *Spec) {
				s.Host("a")
				s.Host("b")
				s.Link("a:"+b.name, "b")
			}), "interface name", "characters Linux or vtest do not accept", "fix:")
			expect(t, valid(func(s *Spec) {
				s.Host("a")
				s.Link("a", b.name)
			}), "is not defined")
		})
	}
	t.Run("too long", func(t *testing.T) {
		long := strings.Repeat("x", MaxScenarioName+1)
		expect(t, Define(long, "").Validate(), "scenario", "is 101 bytes long; at most 100", "fix: use a name of at most 100 bytes")
		expect(t, valid(func(s *Spec) { s.Host(strings.Repeat("n", MaxNodeName+1)) }), "node #1", "is 65 bytes long", "at most 64")
		expect(t, valid(func(s *Spec) {
			s.Check(strings.Repeat("c", 10000), func(context.Context, *Network) Result { return Result{} })
		}), "check #1", "is 10000 bytes long", "… (10000 bytes)")
	})
	t.Run("good names pass", func(t *testing.T) {
		s := Define(strings.Repeat("s", MaxScenarioName), "")
		s.Host("café-ü")
		s.Host(strings.Repeat("n", MaxNodeName))
		s.Link("café-ü", strings.Repeat("n", MaxNodeName))
		s.Check("reach 🚀 ünïcødé", func(context.Context, *Network) Result { return Result{} })
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestCheckEvidenceIsBounded: a check's evidence and message keep at most
// MaxEvidence bytes each, their beginning and their end, with a note of
// how much was cut, and stay valid UTF-8.
func TestCheckEvidenceIsBounded(t *testing.T) {
	huge := "BEGIN" + strings.Repeat("ü", 5<<20) + "END" // 10 MiB
	c := CheckSpec{Name: "dump", Func: func(context.Context, *Network) Result {
		return Result{Err: errors.New(huge), Evidence: huge}
	}}
	co := judge(context.Background(), nil, c.Func, false)
	for what, s := range map[string]string{"evidence": co.Evidence, "message": co.Message} {
		if len(s) > MaxEvidence+200 {
			t.Errorf("%s is %d bytes; want at most %d and a note", what, len(s), MaxEvidence)
		}
		if !strings.HasPrefix(s, "BEGIN") || !strings.HasSuffix(s, "END") || !utf8.ValidString(s) {
			t.Errorf("%s lost its beginning or end, or is not UTF-8: %q … %q", what, s[:20], s[len(s)-20:])
		}
		if !strings.Contains(s, "vtest cut 10420234 of 10485768 bytes (9.9 MiB)") {
			t.Errorf("%s does not say how much was cut: %q", what, s[MaxEvidence*3/4-40:MaxEvidence*3/4+200])
		}
	}
	small := CheckSpec{Name: "small", Func: func(context.Context, *Network) Result { return Result{Evidence: "64 bytes"} }}
	if co := judge(context.Background(), nil, small.Func, false); co.Evidence != "64 bytes" {
		t.Errorf("small evidence changed: %q", co.Evidence)
	}
	panics := CheckSpec{Name: "panics", Func: func(context.Context, *Network) Result { panic(huge) }}
	if co := judge(context.Background(), nil, panics.Func, false); len(co.Message) > MaxEvidence+200 || !strings.Contains(co.Message, "vtest cut") {
		t.Errorf("a panic's message is %d bytes", len(co.Message))
	}
}

// TestNameLimitsFitCaptureFileNames: the longest names Validate accepts
// still make a capture file name Linux accepts (255 bytes):
// <scenario>-<pid>-<seq>-<node>-<interface>.pcapng (runner and
// internal/capture).
func TestNameLimitsFitCaptureFileNames(t *testing.T) {
	longest := strings.Repeat("s", MaxScenarioName) + "-4194304-4294967295" + "-" + strings.Repeat("n", MaxNodeName) + "-" + strings.Repeat("i", maxIfaceName) + ".pcapng"
	if len(longest) > 255 {
		t.Errorf("the longest capture file name is %d bytes; Linux allows 255", len(longest))
	}
}
