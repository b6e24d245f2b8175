package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
)

// plotColors are the line colors of the modes, in report order.
var plotColors = []string{"#1f77b4", "#d62728", "#ff7f0e", "#2ca02c", "#9467bd"}

// writePlot writes a latency-by-percentile plot of every mode in the style
// of HdrHistogram's plots: the x axis is log10(1/(1-p)), so 90 %, 99 %,
// 99.9 % ... are evenly spaced; the y axis is log-scaled latency.
func writePlot(path string, reps []*modeReport) error {
	if err := os.WriteFile(path, plotSVG(reps), 0o644); err != nil {
		return fmt.Errorf("write plot: %w", err)
	}
	return nil
}

func plotSVG(reps []*modeReport) []byte {
	const (
		W, H                          = 760, 440
		left, right, top, bot         = 80, 190, 40, 60
		pw, ph                        = W - left - right, H - top - bot
		xDecades              float64 = 5 // up to 99.999 %
	)
	// The y range covers every mode's samples, by whole decades.
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, r := range reps {
		if r.hist == nil || r.hist.TotalCount() == 0 {
			continue
		}
		lo = math.Min(lo, float64(max(r.hist.Min(), 1)))
		hi = math.Max(hi, float64(max(r.hist.Max(), 1)))
	}
	if math.IsInf(lo, 1) {
		lo, hi = 1, 10
	}
	ylo, yhi := math.Floor(math.Log10(lo)), math.Ceil(math.Log10(hi))
	if yhi <= ylo {
		yhi = ylo + 1
	}
	px := func(x float64) float64 { return left + x/xDecades*pw }
	py := func(v float64) float64 {
		return top + ph - (math.Log10(math.Max(v, 1))-ylo)/(yhi-ylo)*ph
	}

	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%d" y="22" font-size="15" font-weight="bold">Capture latency by percentile (StartNode..End, per node)</text>`+"\n", left)
	// Grid and axes.
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"}
	for i, l := range labels {
		x := px(float64(i))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x, top, x, top+ph)
		fmt.Fprintf(&b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x, top+ph+18, l)
	}
	for d := ylo; d <= yhi; d++ {
		y := py(math.Pow(10, d))
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, y, left+pw, y)
		fmt.Fprintf(&b, `<text x="%d" y="%.1f" text-anchor="end">%s</text>`+"\n", left-6, y+4, ns(int64(math.Pow(10, d))))
	}
	fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">percentile</text>`+"\n", left+pw/2, H-16)
	fmt.Fprintf(&b, `<text x="18" y="%d" text-anchor="middle" transform="rotate(-90 18 %d)">latency (log scale)</text>`+"\n", top+ph/2, top+ph/2)
	// One line per mode.
	for i, r := range reps {
		color := plotColors[i%len(plotColors)]
		if r.hist != nil && r.hist.TotalCount() > 0 {
			// Stop where fewer than one sample lies beyond the percentile.
			xmax := math.Min(xDecades, math.Log10(float64(r.hist.TotalCount())))
			fmt.Fprintf(&b, `<polyline fill="none" stroke="%s" stroke-width="2" points="`, color)
			for x := 0.0; x <= xmax+1e-9; x += 0.05 {
				q := 100 * (1 - math.Pow(10, -x))
				fmt.Fprintf(&b, "%.1f,%.1f ", px(x), py(float64(r.hist.ValueAtQuantile(q))))
			}
			b.WriteString("\"/>\n")
		}
		ly := top + 10 + 22*i
		fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", left+pw+14, ly, left+pw+34, ly, color)
		fmt.Fprintf(&b, `<text x="%d" y="%d">%s (p50 %s)</text>`+"\n", left+pw+40, ly+4, r.Mode, ns(r.Latency.P50))
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
