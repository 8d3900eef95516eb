// Package require has the testing helpers of package assert in a form that
// stops the test at the first failure, like testify's require: Check (any
// scenario check as a helper) and each of assert's helpers. It is
// generated from assert (require_gen.go) by internal/genrequire.
package require

//go:generate go run ../../internal/genrequire -src .. -out require_gen.go

import "github.com/vtest-dev/vtest/assert"

// TestingT is what the helpers need of a test: testify's require.TestingT
// method set (assert.TestingT plus FailNow). Helper is used when present.
type TestingT interface {
	assert.TestingT
	FailNow()
}

// helper returns t's Helper method where t has one; call it as
// helper(t).Helper() (see assert's helper).
func helper(t TestingT) interface{ Helper() } {
	if h, ok := t.(interface{ Helper() }); ok {
		return h
	}
	return noHelper{}
}

type noHelper struct{}

func (noHelper) Helper() {}
