package assert

import (
	"errors"
	"fmt"
)

// failure is a check's error whose message ends with the evidence of its
// result. The evidence is rendered when the message is read, not when the
// check decides it failed: a check sets its result's timing (Elapsed)
// when it returns, so a message rendered earlier said "took 0.000ms"
// while the evidence of the same result said 1000 ms.
type failure struct {
	err error // the message before the evidence
	sep string
	r   Evidencer
}

// failf returns a failure whose message is format's, then ": " and r's
// evidence as it is when the message is read. Format may wrap an error
// with %w.
func failf(r Evidencer, format string, args ...any) error {
	return &failure{err: fmt.Errorf(format, args...), sep: ": ", r: r}
}

// failLines is failf with the evidence on the lines after the message.
func failLines(r Evidencer, format string, args ...any) error {
	return &failure{err: fmt.Errorf(format, args...), sep: ":\n", r: r}
}

func (f *failure) Error() string { return f.err.Error() + f.sep + evidence(f.r) }

// Unwrap returns the error the message wraps, if any.
func (f *failure) Unwrap() error { return errors.Unwrap(f.err) }
