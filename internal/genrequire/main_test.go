package main

import (
	"bytes"
	"os"
	"testing"
)

// TestRequireIsGenerated fails when assert/require/require_gen.go is not
// what the generator writes from package assert now: a helper added to,
// changed in or removed from assert without go generate.
func TestRequireIsGenerated(t *testing.T) {
	want, err := generate("../../assert")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../assert/require/require_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("assert/require/require_gen.go is stale: run go generate ./assert/require")
	}
}
