package bench

import (
	"fmt"
	"io"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// WriteSVG draws, per workload (and entry size), each store's throughput
// (top row) and p99 latency (bottom row) as bars; where the disk limit
// applies it is drawn as a dashed line.
func WriteSVG(w io.Writer, rep *Report) error {
	return writeChart(w, rep, func(w, h vg.Length) vg.CanvasWriterTo { return vgsvg.New(w, h) })
}

func writeChart(w io.Writer, rep *Report, newCanvas func(w, h vg.Length) vg.CanvasWriterTo) error {
	// One group per workload, entry size and concurrency: W8 per writer
	// count, W2's bounded window apart (only mmaplog runs it). A store
	// with two rows in a group (W8's direct and leader-loop peers) shows
	// its first, the natural equivalent.
	type group struct {
		workload string
		size     int
		writers  int
		bounded  bool
	}
	keyOf := func(r Result) group {
		return group{r.Workload, r.EntrySize, r.Writers, r.InFlight == boundedWindow}
	}
	var groups []group
	var stores []string
	seenG, seenS := map[group]bool{}, map[string]bool{}
	for _, r := range rep.Results {
		if r.Store == "disk" {
			continue
		}
		g := keyOf(r)
		if !seenG[g] {
			seenG[g] = true
			groups = append(groups, g)
		}
		if !seenS[r.Store] {
			seenS[r.Store] = true
			stores = append(stores, r.Store)
		}
	}
	if len(groups) == 0 {
		return fmt.Errorf("bench: svg: no store results to draw")
	}
	rf := refs{rep}
	find := func(store string, g group) (Result, bool) {
		for _, r := range rep.Results {
			if r.Store == store && keyOf(r) == g && r.Ran() {
				return r, true
			}
		}
		return Result{}, false
	}
	limit := func(workload string) (Result, bool) {
		if !strings.HasPrefix(workload, "W1") && !strings.HasPrefix(workload, "W6") {
			return Result{}, false
		}
		return rf.syncLimit()
	}

	plots := [][]*plot.Plot{make([]*plot.Plot, len(groups)), make([]*plot.Plot, len(groups))}
	for j, g := range groups {
		for row := range 2 {
			p := plot.New()
			title, unit := "throughput", "entries/s"
			if strings.HasPrefix(g.workload, "W5") {
				title, unit = "opens", "opens/s"
			}
			if row == 1 {
				title, unit = "p99 latency", "µs"
			}
			load := ""
			switch {
			case g.writers > 0:
				load = fmtLoad(Result{Writers: g.writers})
			case g.bounded:
				load = fmtLoad(Result{InFlight: boundedWindow})
			}
			if load != "" {
				title = load + ", " + title
			}
			p.Title.Text = fmt.Sprintf("%s %s\n%s", g.workload, fmtSize(g.size), title)
			p.Y.Label.Text = unit
			p.Y.Min = 0
			p.Y.Tick.Marker = countTicks{}
			p.NominalX(stores...)
			p.X.Min, p.X.Max = -0.5, float64(len(stores))-0.5
			p.X.Tick.Label.Font.Size = vg.Points(7)
			for i, s := range stores {
				r, ok := find(s, g)
				if !ok {
					continue
				}
				v := r.OpsPerSec
				if row == 1 {
					v = r.P99us
				}
				bar, err := plotter.NewBarChart(plotter.Values{v}, vg.Points(14))
				if err != nil {
					return fmt.Errorf("bench: svg: %w", err)
				}
				bar.XMin = float64(i)
				bar.Color = plotutil.Color(i)
				bar.LineStyle.Width = 0
				p.Add(bar)
				label := fmtCount(v)
				if row == 1 {
					label = fmtUs(v)
				}
				labels, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{{X: float64(i), Y: v}}, Labels: []string{label}})
				if err != nil {
					return fmt.Errorf("bench: svg: %w", err)
				}
				for k := range labels.TextStyle {
					labels.TextStyle[k].Font.Size = vg.Points(6.5)
					labels.TextStyle[k].XAlign = draw.XCenter
				}
				labels.Offset = vg.Point{Y: vg.Points(2)}
				p.Add(labels)
			}
			if l, ok := limit(g.workload); ok {
				v := l.OpsPerSec
				if row == 1 {
					v = l.P99us
				}
				line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: v}, {X: float64(len(stores)) - 0.5, Y: v}})
				if err != nil {
					return fmt.Errorf("bench: svg: %w", err)
				}
				line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
				p.Add(line)
				p.Legend.Add("disk: "+strings.TrimPrefix(l.Workload, "limit-"), line)
				p.Legend.Top = true
				p.Legend.TextStyle.Font.Size = vg.Points(8)
			}
			plots[row][j] = p
		}
	}
	width := vg.Points(max(40*float64(len(stores)), 120) * float64(len(groups)))
	height := vg.Points(480)
	c := newCanvas(width, height)
	dc := draw.New(c)
	tiles := draw.Tiles{Rows: 2, Cols: len(groups), PadX: vg.Points(8), PadY: vg.Points(8),
		PadTop: vg.Points(6), PadBottom: vg.Points(6), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align(plots, tiles, dc)
	for i := range plots {
		for j := range plots[i] {
			plots[i][j].Draw(canvases[i][j])
		}
	}
	if _, err := c.WriteTo(w); err != nil {
		return fmt.Errorf("bench: svg: %w", err)
	}
	return nil
}

// countTicks labels the default ticks as 4,950 / 1.23M.
type countTicks struct{}

func (countTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = fmtCount(ts[i].Value)
			if ts[i].Value == 0 {
				ts[i].Label = "0"
			}
		}
	}
	return ts
}
