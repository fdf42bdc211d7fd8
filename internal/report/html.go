package report

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"math"
	"sort"
	"strings"
	"time"
)

//go:embed report.html.tmpl
var htmlTemplate string

var tmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"dur":     fmtDur,
	"secs":    secs,
	"sub":     subName,
	"dash":    dashIfEmpty,
	"utc":     func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 MST") },
	"stclass": statusClass,
	"lower":   strings.ToLower,
	"plural":  plural,
	"since":   func(start, t time.Time) string { return secs(t.Sub(start)) },
	"sevclass": func(s string) string {
		return "sev-" + map[string]string{"high": "high", "medium": "medium", "low": "low"}[s]
	},
}).Parse(htmlTemplate))

// HTML renders the report as a self-contained HTML page (report.html):
// inline CSS and SVG, no scripts, no external references.
func (r *Report) HTML() []byte {
	var b bytes.Buffer
	if err := tmpl.Execute(&b, htmlView{Report: r, Chart: r.chart()}); err != nil {
		// The template is fixed and the model is plain data: an error here
		// is a bug. Render it rather than panic.
		return []byte("<!doctype html><meta charset=utf-8><title>panicbutton report</title><p>report rendering failed: " +
			template.HTMLEscapeString(err.Error()) + "</p>")
	}
	return b.Bytes()
}

type htmlView struct {
	*Report
	Chart chart
}

// chart is the geometry of the timeline SVG (user units of its viewBox).
type chart struct {
	Width, Height               int
	LabelW, PlotX, PlotW, AxisY float64
	Lanes                       []chartLane
	Ticks                       []chartTick
	Contain                     *chartMark
	Statuses                    []string // the statuses present, for the legend
}

type chartLane struct {
	Account        string
	Y, MidY        float64
	Bars           []chartBar
	LabelY, Height float64
	BgY, BgH       float64
}

type chartBar struct {
	X, Y, W, H  float64
	Class       string
	Label       string // drawn inside when it fits
	LabelX      float64
	LabelY      float64
	Title       string
	Step        string
	StatusLabel string
}

type chartTick struct {
	X     float64
	Label string
}

type chartMark struct {
	X     float64
	Label string
	Right bool // label to the left of the line (near the right edge)
}

const (
	chartW     = 960
	chartLabel = 150
	chartPadR  = 24
	lanePad    = 8
	barH       = 22
	barGap     = 4
	chartTop   = 26
	axisH      = 30
)

var knownStatuses = []string{"ok", "changed", "would-change", "pending", "skipped", "failed"}

func statusClass(s string) string {
	for _, k := range knownStatuses {
		if s == k {
			return "st-" + k
		}
	}
	return "st-other"
}

func (r *Report) chart() chart {
	c := chart{Width: chartW, LabelW: chartLabel, PlotX: chartLabel}
	total := r.Duration
	for _, l := range r.Timeline {
		for _, b := range l.Bars {
			total = max(total, b.End)
		}
	}
	if total <= 0 {
		total = time.Millisecond
	}
	step := niceStep(total.Seconds())
	// Round the axis end up to a whole tick.
	end := math.Ceil(total.Seconds()/step-1e-9) * step
	if end <= 0 {
		end = step
	}
	plotW := float64(chartW - chartLabel - chartPadR)
	c.PlotW = plotW
	x := func(d time.Duration) float64 { return chartLabel + d.Seconds()/end*plotW }

	seen := map[string]bool{}
	y := float64(chartTop)
	for _, l := range r.Timeline {
		// Steps of one account may overlap (independent steps run
		// concurrently): stack overlapping bars in sub-rows.
		bars := append([]Bar(nil), l.Bars...)
		sort.SliceStable(bars, func(i, j int) bool { return bars[i].Start < bars[j].Start })
		type placed struct {
			b      Bar
			x0, w  float64
			subRow int
		}
		var rowsEnd []float64
		var ps []placed
		for _, b := range bars {
			x0, x1 := x(b.Start), x(b.End)
			w := math.Max(x1-x0, 4)
			if x0+w > chartW-chartPadR {
				x0 = chartW - chartPadR - w
			}
			row := -1
			for i, e := range rowsEnd {
				if x0 >= e+1 {
					row = i
					break
				}
			}
			if row < 0 {
				rowsEnd = append(rowsEnd, 0)
				row = len(rowsEnd) - 1
			}
			rowsEnd[row] = x0 + w
			ps = append(ps, placed{b, x0, w, row})
		}
		rows := max(len(rowsEnd), 1)
		h := float64(rows*(barH+barGap) - barGap + 2*lanePad)
		cl := chartLane{Account: l.Account, Y: y, Height: h, MidY: y + h/2, LabelY: y + h/2 + 5, BgY: y + 3, BgH: h - 6}
		for _, p := range ps {
			by := y + lanePad + float64(p.subRow*(barH+barGap))
			b := p.b
			cb := chartBar{X: round1(p.x0), Y: by, W: round1(p.w), H: barH, Class: statusClass(b.Status),
				Step: b.Step, StatusLabel: b.Status,
				Title: fmt.Sprintf("%s (%s) on %s: %s, %s–%s s: %s", b.Step, b.Action, l.Account, b.Status, secs(b.Start), secs(b.End), b.Summary)}
			if float64(len(b.Step))*6.6+10 <= p.w {
				cb.Label, cb.LabelX, cb.LabelY = b.Step, round1(p.x0+5), by+barH/2+4
			}
			cl.Bars = append(cl.Bars, cb)
			seen[b.Status] = true
		}
		c.Lanes = append(c.Lanes, cl)
		y += h
	}
	c.AxisY = y + 4
	c.Height = int(y) + axisH
	for t := 0.0; t <= end+step/2; t += step {
		c.Ticks = append(c.Ticks, chartTick{X: round1(x(time.Duration(t * float64(time.Second)))), Label: tickLabel(t, step)})
	}
	if r.HasContainTime {
		mx := round1(x(r.TimeToContain))
		c.Contain = &chartMark{X: mx, Label: "contained " + fmtDur(r.TimeToContain), Right: mx > chartW-220}
	}
	for _, s := range knownStatuses {
		if seen[s] {
			c.Statuses = append(c.Statuses, s)
		}
	}
	return c
}

func round1(f float64) float64 { return math.Round(f*10) / 10 }

// niceStep picks a tick interval (1, 2 or 5 × 10^k seconds) giving at most
// about eight ticks over total seconds.
func niceStep(total float64) float64 {
	raw := total / 8
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func tickLabel(t, step float64) string {
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	return fmt.Sprintf("%.*f s", decimals, t)
}
