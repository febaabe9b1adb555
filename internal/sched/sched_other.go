//go:build !linux

package sched

import (
	"errors"
	"time"
)

// Supported reports false: only Linux takes the request.
func Supported() bool { return false }

// Prompt does nothing here: only Linux takes the request.
type Prompt struct {
	Err error
}

// Begin records that the request is not supported.
func (p *Prompt) Begin(time.Duration) { p.Err = errors.ErrUnsupported }

// End does nothing.
func (p *Prompt) End() {}

// ThreadID returns 0: not known here.
func ThreadID() int { return 0 }

// Slice reports that no slice is known here.
func Slice(int) (time.Duration, bool, error) { return 0, false, nil }
