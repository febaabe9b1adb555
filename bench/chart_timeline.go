package bench

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// ErrNoTimeline is returned by WriteTimelineSVG for a report without a
// latency-over-time series (W6 did not run).
var ErrNoTimeline = errors.New("bench: no latency timeline in the report (W6 did not run)")

// WriteTimelineSVG draws W6's latency over time, one panel per store on a
// shared logarithmic scale: the largest and the mean latency of the calls
// started in each step, and each purge as a dashed line where it started.
// A stall (a rotation, a file removal, a purge on the writer's path)
// shows as a spike in the largest latency, or as a gap where no call
// started.
func WriteTimelineSVG(w io.Writer, rep *Report) error {
	return writeTimeline(w, rep, func(w, h vg.Length) vg.CanvasWriterTo { return vgsvg.New(w, h) })
}

func writeTimeline(w io.Writer, rep *Report, newCanvas func(w, h vg.Length) vg.CanvasWriterTo) error {
	var rs []Result
	lo, hi, end := math.Inf(1), 0.0, 0.0
	for _, r := range rep.Results {
		if len(r.Timeline) == 0 {
			continue
		}
		rs = append(rs, r)
		for _, p := range r.Timeline {
			lo, hi, end = min(lo, p.MeanUs), max(hi, p.MaxUs), max(end, p.Ms/1e3)
		}
	}
	if len(rs) == 0 {
		return ErrNoTimeline
	}
	// Whole decades, so that every panel has the same ticks.
	lo = math.Pow(10, math.Floor(math.Log10(max(lo, 1))))
	hi = math.Pow(10, math.Ceil(math.Log10(max(hi, lo*10))))

	plots := make([][]*plot.Plot, len(rs))
	for i, r := range rs {
		p, err := timelinePlot(r, lo, hi, end, i)
		if err != nil {
			return err
		}
		plots[i] = []*plot.Plot{p}
	}
	c := newCanvas(vg.Points(760), vg.Points(170*float64(len(rs))))
	tiles := draw.Tiles{Rows: len(rs), Cols: 1, PadY: vg.Points(10),
		PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(10)}
	canvases := plot.Align(plots, tiles, draw.New(c))
	for i := range plots {
		plots[i][0].Draw(canvases[i][0])
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("bench: timeline svg: %w", err)
	}
	return nil
}

func timelinePlot(r Result, lo, hi, end float64, hue int) (*plot.Plot, error) {
	p := plot.New()
	step := r.TimelineStepMs
	p.Title.Text = fmt.Sprintf("%s %s %s: latency over time (per %.3g ms: largest, mean; purges dashed)",
		r.Workload, r.Store, fmtSize(r.EntrySize), step)
	p.Title.TextStyle.Font.Size = vg.Points(9)
	p.X.Label.Text = "s"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = durationTicks{}
	p.Y.Min, p.Y.Max = lo, hi
	p.X.Min, p.X.Max = 0, end
	grid := plotter.NewGrid()
	grid.Vertical.Color = nil
	p.Add(grid)

	// One line per run of consecutive steps, so that a gap (no call
	// started) stays visible; a dot on every largest value, so that a
	// step alone between gaps shows too.
	var maxXY, meanXY plotter.XYs
	legend := false
	flush := func() error {
		if len(maxXY) > 1 {
			maxLine, err := plotter.NewLine(maxXY)
			if err != nil {
				return err
			}
			maxLine.Color, maxLine.Width = plotutil.Color(hue), vg.Points(0.8)
			meanLine, err := plotter.NewLine(meanXY)
			if err != nil {
				return err
			}
			meanLine.Color, meanLine.Width = plotutil.Color(hue), vg.Points(0.5)
			meanLine.Dashes = []vg.Length{vg.Points(1), vg.Points(1)}
			p.Add(maxLine, meanLine)
			if !legend {
				p.Legend.Add("largest", maxLine)
				p.Legend.Add("mean", meanLine)
				legend = true
			}
		}
		maxXY, meanXY = maxXY[:0], meanXY[:0]
		return nil
	}
	var dots plotter.XYs
	for i, pt := range r.Timeline {
		if i > 0 && pt.Ms-r.Timeline[i-1].Ms > step*1.5 {
			if err := flush(); err != nil {
				return nil, fmt.Errorf("bench: timeline svg: %w", err)
			}
		}
		x := pt.Ms / 1e3
		maxXY = append(maxXY, plotter.XY{X: x, Y: pt.MaxUs})
		meanXY = append(meanXY, plotter.XY{X: x, Y: max(pt.MeanUs, lo)})
		dots = append(dots, plotter.XY{X: x, Y: pt.MaxUs})
	}
	if err := flush(); err != nil {
		return nil, fmt.Errorf("bench: timeline svg: %w", err)
	}
	sc, err := plotter.NewScatter(dots)
	if err != nil {
		return nil, fmt.Errorf("bench: timeline svg: %w", err)
	}
	sc.Color = plotutil.Color(hue)
	sc.Radius = vg.Points(0.9)
	sc.Shape = draw.CircleGlyph{}
	p.Add(sc)
	for _, e := range r.Events {
		x := e.Ms / 1e3
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: lo}, {X: x, Y: hi}})
		if err != nil {
			return nil, fmt.Errorf("bench: timeline svg: %w", err)
		}
		l.Color = color.Gray{Y: 110}
		l.Width = vg.Points(0.5)
		l.Dashes = []vg.Length{vg.Points(3), vg.Points(2)}
		p.Add(l)
	}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	return p, nil
}

// durationTicks labels a logarithmic µs axis by decade: 100 µs, 1 ms, 1 s.
type durationTicks struct{}

func (durationTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		v := math.Pow(10, e)
		if v < lo*0.999 || v > hi*1.001 {
			continue
		}
		var label string
		switch {
		case v >= 1e6:
			label = fmt.Sprintf("%g s", v/1e6)
		case v >= 1e3:
			label = fmt.Sprintf("%g ms", v/1e3)
		default:
			label = fmt.Sprintf("%g µs", v)
		}
		ts = append(ts, plot.Tick{Value: v, Label: label})
		for m := 2.0; m < 10 && v*m <= hi; m++ {
			ts = append(ts, plot.Tick{Value: v * m})
		}
	}
	return ts
}
