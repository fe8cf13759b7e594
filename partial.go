package qwatch

import (
	"errors"
	"fmt"
)

// PartialError is an error a Sink's Write returns when it handled only part of the batch for
// good. Indexes lists, by their index in the batch, the messages it did not handle; the Hub
// counts those as failed and the rest as written. Err says why.
//
// The Hub recognizes any error in the chain of Write's error (see errors.As) that has the
// method Unwritten() []int, so a sink package can return an error type of its own and need
// not import this package. Indexes out of range, or repeated, are ignored.
type PartialError struct {
	Err     error
	Indexes []int
}

// Error says how many messages were not written, and why.
func (e *PartialError) Error() string {
	return fmt.Sprintf("%d message(s) of the batch not written: %v", len(e.Indexes), e.Err)
}

// Unwrap returns Err.
func (e *PartialError) Unwrap() error { return e.Err }

// Unwritten returns Indexes.
func (e *PartialError) Unwritten() []int { return e.Indexes }

// unwritten returns the indexes, in order, of the messages of a batch of n that err says were
// not written: none for nil, the distinct in-range indexes of a partial error, or all n for any
// other error.
func unwritten(err error, n int) []int {
	if err == nil {
		return nil
	}
	var p interface{ Unwritten() []int }
	if !errors.As(err, &p) {
		all := make([]int, n)
		for i := range all {
			all[i] = i
		}
		return all
	}
	listed := make([]bool, n)
	for _, i := range p.Unwritten() {
		if i >= 0 && i < n {
			listed[i] = true
		}
	}
	var out []int
	for i, l := range listed {
		if l {
			out = append(out, i)
		}
	}
	return out
}
