package report

import (
	"bytes"
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/gonum/stat/distuv"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Chart colours.
var (
	colData   = color.RGBA{R: 0x1f, G: 0x5f, B: 0xa8, A: 0xff}
	colLimit  = color.RGBA{R: 0xc0, G: 0x30, B: 0x30, A: 0xff}
	colCenter = color.RGBA{R: 0x30, G: 0x90, B: 0x40, A: 0xff}
	colFit    = color.RGBA{R: 0xe0, G: 0x80, B: 0x10, A: 0xff}
)

// chart is one figure of the report, drawn once and written as SVG (HTML)
// or PNG (PDF).
type chart struct {
	p    *plot.Plot
	w, h vg.Length
}

func (c chart) svg() ([]byte, error) {
	cv := vgsvg.New(c.w, c.h)
	c.p.Draw(draw.New(cv))
	var b bytes.Buffer
	if _, err := cv.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

func (c chart) png() ([]byte, error) {
	cv := vgimg.PngCanvas{Canvas: vgimg.NewWith(vgimg.UseWH(c.w, c.h), vgimg.UseDPI(150))}
	c.p.Draw(draw.New(cv))
	var b bytes.Buffer
	if _, err := cv.WriteTo(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// preciseTicks labels an axis's default ticks with enough digits to tell
// neighbouring ticks apart (the default prints 19, 19, 19 for 18.9–19.1).
type preciseTicks struct{}

func (preciseTicks) Ticks(lo, hi float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(lo, hi)
	step := math.Inf(1)
	for i := 1; i < len(ts); i++ {
		if ts[i].Label != "" && ts[i-1].Label != "" {
			step = min(step, ts[i].Value-ts[i-1].Value)
		}
	}
	d := 0
	if !math.IsInf(step, 1) && step > 0 {
		d = max(0, int(math.Ceil(-math.Log10(step)+1e-9)))
	}
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = fmt.Sprintf("%.*f", d, ts[i].Value)
		}
	}
	return ts
}

// newPlot is a plot whose value axes label ticks precisely.
func newPlot() *plot.Plot {
	p := plot.New()
	p.X.Tick.Marker = preciseTicks{}
	p.Y.Tick.Marker = preciseTicks{}
	return p
}

func hline(y, x0, x1 float64, col color.Color, dashed bool) *plotter.Line {
	l, _ := plotter.NewLine(plotter.XYs{{X: x0, Y: y}, {X: x1, Y: y}})
	l.Color = col
	if dashed {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	return l
}

func vline(x, y0, y1 float64, col color.Color) *plotter.Line {
	l, _ := plotter.NewLine(plotter.XYs{{X: x, Y: y0}, {X: x, Y: y1}})
	l.Color = col
	l.Width = vg.Points(1.5)
	return l
}

// histogramChart draws a characteristic's histogram with its
// specification limits and the fitted normal density.
func histogramChart(c Characteristic) (chart, error) {
	p := newPlot()
	p.Title.Text = c.Name + " (mm)"
	p.Y.Label.Text = "count"
	vals := make(plotter.Values, len(c.Points))
	for i, pt := range c.Points {
		vals[i] = pt.Value
	}
	if len(vals) == 0 {
		return chart{}, fmt.Errorf("no values")
	}
	h := c.Histogram
	bins := len(h.Counts)
	xy := make(plotter.XYs, 0, bins)
	w := (h.Max - h.Min) / float64(bins)
	var top float64
	for i, n := range h.Counts {
		xy = append(xy, plotter.XY{X: h.Min + (float64(i)+0.5)*w, Y: float64(n)})
		top = max(top, float64(n))
	}
	hist, err := plotter.NewHistogram(xy, bins)
	if err != nil {
		return chart{}, err
	}
	hist.FillColor = color.RGBA{R: 0x9c, G: 0xbe, B: 0xe6, A: 0xff}
	hist.LineStyle.Color = colData
	p.Add(hist)
	if c.Study != nil && c.Study.SigmaOverall > 0 && w > 0 {
		n := distuv.Normal{Mu: c.Study.Mean, Sigma: c.Study.SigmaOverall}
		scale := float64(len(vals)) * w
		f := plotter.NewFunction(func(x float64) float64 { return scale * n.Prob(x) })
		f.Color, f.Width, f.Samples = colFit, vg.Points(1.5), 200
		f.XMin, f.XMax = h.Min, h.Max
		p.Add(f)
		top = max(top, scale*n.Prob(c.Study.Mean))
	}
	if !c.OneSided {
		p.Add(vline(c.Tolerance.Lower, 0, top*1.05, colLimit))
	}
	p.Add(vline(c.Tolerance.Upper, 0, top*1.05, colLimit))
	p.X.Min, p.X.Max = h.Min, h.Max
	return chart{p, 16 * vg.Centimeter, 7 * vg.Centimeter}, nil
}

// imrCharts draws the individuals and moving-range charts.
func imrCharts(c Characteristic) (chart, chart, error) {
	n := len(c.Points)
	if n < 2 || c.Study == nil {
		return chart{}, chart{}, fmt.Errorf("too few points")
	}
	ip := newPlot()
	ip.Title.Text = c.Name + ": individuals (I)"
	ip.X.Label.Text = "bur, production order"
	pts := make(plotter.XYs, n)
	for i, pt := range c.Points {
		pts[i] = plotter.XY{X: float64(i + 1), Y: pt.Value}
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return chart{}, chart{}, err
	}
	l.Color = colData
	ip.Add(l)
	ch := c.Chart
	ip.Add(hline(ch.Center, 1, float64(n), colCenter, false), hline(ch.UCL, 1, float64(n), colLimit, true), hline(ch.LCL, 1, float64(n), colLimit, true))
	if len(ch.OutOfControl) > 0 {
		out := make(plotter.XYs, len(ch.OutOfControl))
		for i, k := range ch.OutOfControl {
			out[i] = pts[k]
		}
		s, _ := plotter.NewScatter(out)
		s.Color = colLimit
		s.Shape = draw.CircleGlyph{}
		ip.Add(s)
	}
	mp := newPlot()
	mp.Title.Text = c.Name + ": moving range (MR)"
	mp.X.Label.Text = "bur, production order"
	mr := make(plotter.XYs, n-1)
	for i := 1; i < n; i++ {
		mr[i-1] = plotter.XY{X: float64(i + 1), Y: math.Abs(c.Points[i].Value - c.Points[i-1].Value)}
	}
	ml, err := plotter.NewLine(mr)
	if err != nil {
		return chart{}, chart{}, err
	}
	ml.Color = colData
	mp.Add(ml, hline(ch.MRBar, 1, float64(n), colCenter, false), hline(ch.MRUCL, 1, float64(n), colLimit, true))
	return chart{ip, 16 * vg.Centimeter, 6 * vg.Centimeter}, chart{mp, 16 * vg.Centimeter, 5 * vg.Centimeter}, nil
}

// taktChart draws the good-bur intervals against the target.
func taktChart(t Takt) (chart, error) {
	if len(t.Intervals) == 0 {
		return chart{}, fmt.Errorf("no intervals")
	}
	p := newPlot()
	p.Title.Text = "interval between good burs (s)"
	p.X.Label.Text = "good bur"
	xy := make(plotter.XYs, len(t.Intervals))
	for i, d := range t.Intervals {
		xy[i] = plotter.XY{X: float64(i + 2), Y: d}
	}
	s, err := plotter.NewScatter(xy)
	if err != nil {
		return chart{}, err
	}
	s.Color = colData
	s.GlyphStyle.Radius = vg.Points(1.2)
	n := float64(len(t.Intervals) + 1)
	p.Add(s, hline(t.TargetS, 2, n, colLimit, true), hline(t.ActualS, 2, n, colCenter, false))
	return chart{p, 16 * vg.Centimeter, 6 * vg.Centimeter}, nil
}

// waterfallChart draws the line's OEE losses from planned busy time.
func waterfallChart(w WaterfallRow) (chart, error) {
	p := newPlot()
	p.Title.Text = "OEE loss waterfall, " + w.ID + " (h)"
	steps := []struct {
		name string
		v    float64
	}{{"planned busy", w.PlannedBusyH}, {"availability", -w.AvailabilityLossH}, {"speed", -w.SpeedLossH}, {"quality", -w.QualityLossH}, {"good ideal", w.GoodIdealH}}
	level := 0.0
	for i, st := range steps {
		lo, hi := level, level+st.v
		if i == 0 || i == len(steps)-1 {
			lo, hi = 0, st.v
		}
		if lo > hi {
			lo, hi = hi, lo
		}
		col := colData
		if i > 0 && i < len(steps)-1 {
			col = colLimit
		}
		poly, err := plotter.NewPolygon(plotter.XYs{{X: float64(i) - 0.35, Y: lo}, {X: float64(i) + 0.35, Y: lo}, {X: float64(i) + 0.35, Y: hi}, {X: float64(i) - 0.35, Y: hi}})
		if err != nil {
			return chart{}, err
		}
		poly.Color = col
		poly.LineStyle.Width = 0
		p.Add(poly)
		if i == 0 {
			level = st.v
		} else {
			level += st.v
		}
	}
	names := make([]string, len(steps))
	for i, st := range steps {
		names[i] = st.name
	}
	p.NominalX(names...)
	p.Y.Min = 0
	return chart{p, 16 * vg.Centimeter, 6 * vg.Centimeter}, nil
}

// wearChart draws a characteristic against wheel wear with its fit.
func wearChart(w WheelEffect) (chart, error) {
	if w.Wear == nil || len(w.Samples) == 0 {
		return chart{}, fmt.Errorf("no fit")
	}
	p := newPlot()
	p.Title.Text = fmt.Sprintf("%s vs wheel wear since dressing (R² = %.3f)", w.Characteristic, w.Wear.R2)
	p.X.Label.Text = "wheel wear (µm)"
	xy := make(plotter.XYs, len(w.Samples))
	for i, s := range w.Samples {
		xy[i] = plotter.XY{X: s.WearUM, Y: s.Value}
	}
	s, err := plotter.NewScatter(xy)
	if err != nil {
		return chart{}, err
	}
	s.Color = colData
	s.GlyphStyle.Radius = vg.Points(1)
	f := plotter.NewFunction(w.Wear.Predict)
	f.Color, f.Width = colFit, vg.Points(1.5)
	p.Add(s, f)
	return chart{p, 16 * vg.Centimeter, 6 * vg.Centimeter}, nil
}
