package main

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
)

// Results are the metrics of each benchmark, by name without the
// GOMAXPROCS suffix: one map of unit to value per run (-count).
type Results map[string][]map[string]float64

// parse reads go test -bench output; lines other than benchmark results
// are ignored.
func parse(r io.Reader) (Results, error) {
	res := Results{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue
		}
		name := strings.TrimPrefix(f[0], "Benchmark")
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		run := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%q: value %q: %w", sc.Text(), f[i], err)
			}
			run[f[i+1]] = v
		}
		res[name] = append(res[name], run)
	}
	return res, sc.Err()
}

// metric is a figure computed from one benchmark's runs.
type metric struct {
	bench, unit string
	get         func(Results) (float64, bool)
}

// values returns a unit's value in each run of a benchmark.
func (r Results) values(bench, unit string) []float64 {
	var vs []float64
	for _, run := range r[bench] {
		if v, ok := run[unit]; ok {
			vs = append(vs, v)
		}
	}
	return vs
}

// med is the median over the runs (the lower middle one of an even count).
func med(bench, unit string) metric {
	return metric{bench, unit, func(r Results) (float64, bool) {
		vs := r.values(bench, unit)
		if len(vs) == 0 {
			return 0, false
		}
		slices.Sort(vs)
		return vs[(len(vs)-1)/2], true
	}}
}

// count is the number of runs that have the unit.
func count(bench, unit string) metric {
	return metric{bench, unit, func(r Results) (float64, bool) {
		n := len(r.values(bench, unit))
		return float64(n), n > 0
	}}
}

// scaled multiplies m by k.
func scaled(m metric, k float64) metric {
	return metric{m.bench, m.unit, func(r Results) (float64, bool) {
		v, ok := m.get(r)
		return v * k, ok
	}}
}
