package main

import (
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
)

// progress shows a bar on a terminal once a scan has run for a second,
// and nothing elsewhere (a pipe, a file, a test).
type progress struct {
	w     io.Writer
	what  string
	bytes bool // count bytes; otherwise entries
	on    bool
	start time.Time
	bar   *progressbar.ProgressBar
}

// newProgress returns a bar counting bytes.
func newProgress(w io.Writer, what string) *progress {
	p := &progress{w: w, what: what, bytes: true, start: time.Now()}
	if f, ok := w.(*os.File); ok {
		p.on = isatty.IsTerminal(f.Fd()) || isatty.IsCygwinTerminal(f.Fd())
	}
	return p
}

func (p *progress) update(done, total int64) {
	if !p.on || total <= 0 {
		return
	}
	if p.bar == nil {
		if time.Since(p.start) < time.Second {
			return
		}
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(p.w),
			progressbar.OptionSetDescription(p.what),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionClearOnFinish(),
		}
		if p.bytes {
			opts = append(opts, progressbar.OptionShowBytes(true))
		} else {
			opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionSetItsString("entries"), progressbar.OptionShowIts())
		}
		p.bar = progressbar.NewOptions64(total, opts...)
	}
	_ = p.bar.Set64(done)
}

// newCountProgress returns a bar counting entries.
func newCountProgress(w io.Writer, what string) *progress {
	p := newProgress(w, what)
	p.bytes = false
	return p
}

func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish()
	}
}
