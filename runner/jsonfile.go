package runner

import (
	"fmt"
	"os"

	"github.com/vtest-dev/vtest/reports"
)

// jsonFile is the -json report's writer. Its first write publishes a new
// file at path with that write in it, in one step (reports.CreateFileWith),
// and the later writes go to that file, so tail -f follows the
// run. An existing report is therefore never truncated: it is replaced by
// a new file once the new report has its first event, and a first write
// that fails (a full disk) leaves it as it was.
type jsonFile struct {
	path string
	f    *os.File
	err  error // the first failed write; later writes fail with it
}

func (j *jsonFile) Write(p []byte) (int, error) {
	if j.err != nil {
		return 0, j.err
	}
	if j.f == nil {
		f, err := reports.CreateFileWith(j.path, p)
		if err != nil {
			j.err = fmt.Errorf("JSON report: %w (a report that was there is unchanged)", err)
			return 0, j.err
		}
		j.f = f
		return len(p), nil
	}
	n, err := j.f.Write(p)
	if err != nil {
		j.err = fmt.Errorf("JSON report %s: %w", j.path, err)
		return n, j.err
	}
	return n, nil
}

// Close closes the file.
func (j *jsonFile) Close() error {
	if j.f == nil {
		return nil
	}
	return j.f.Close()
}
