package plant_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/mqtt/mqtttest"
	"github.com/pilotline/pilotline/mqtt/plant"
	"github.com/pilotline/pilotline/ui/uitest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// feed gives a line's grinders the states in mix (in grinder order), an
// alarm per alarms entry and the figures.
func feed(tb testing.TB, l *line, mix []mes.MachineState, alarms []string, f mqtt.Figures) {
	tb.Helper()
	now := time.Now()
	var events []mes.MachineEvent
	for i, st := range mix {
		events = append(events, mes.MachineEvent{Machine: fmt.Sprintf("G%02d", i+1), Kind: mes.EventState, SourceTime: now, State: st})
	}
	for i, id := range alarms {
		events = append(events, mes.MachineEvent{Machine: id, Kind: mes.EventAlarmRaised, SourceTime: now,
			Alarm: &mes.Alarm{Seq: uint64(i + 1), Code: "E2103", Text: "Spindle overload", Severity: 700}})
	}
	require.NoError(tb, l.p.Publish(context.Background(), events...))
	l.p.SetFigures(f)
}

func repeat(st mes.MachineState, n int) []mes.MachineState {
	out := make([]mes.MachineState, n)
	for i := range out {
		out[i] = st
	}
	return out
}

func TestView_Browser(t *testing.T) {
	ctx := uitest.MustChromium(t)
	broker := mqtttest.MustMosquitto(t)
	v := startView(t, broker.URL())
	a := newLine(t, broker.URL(), "Shenzhen line 1")
	b := newLine(t, broker.URL(), "Shenzhen line 2")
	c := newLine(t, broker.URL(), "Suzhou line 1")

	f := func(oee, takt float64, out uint64, kwh float64) mqtt.Figures {
		return mqtt.Figures{TaktTargetS: 12, TaktS: takt, OEE: &oee, OutputToday: out, GoodToday: out - out/50, EnergyPerGoodBurKWh: kwh}
	}
	mixA := append(append(append(repeat(mes.StateGrinding, 17), repeat(mes.StateLoading, 3)...), repeat(mes.StateDressing, 2)...), mes.StateIdle, mes.StateAlarm, mes.StateStarved)
	feed(t, a, mixA, []string{"G24"}, f(0.78, 12.3, 2874, 0.041))
	mixB := append(append(repeat(mes.StateGrinding, 20), repeat(mes.StateUnloading, 4)...), mes.StateToolChange)
	feed(t, b, mixB, nil, f(0.84, 12.1, 3012, 0.039))
	feed(t, c, repeat(mes.StateGrinding, 25), nil, f(0.81, 12.2, 1950, 0.044))
	waitCard(t, v, "suzhou-line-1", "its figures", func(c plant.Card) bool { return c.OutputToday != nil && *c.OutputToday == 1950 })
	c.stop() // Suzhou line 1 goes away: stale on its NDEATH

	_, err := chromedp.Run(ctx, chromedp.Navigate(v.URL()))
	require.NoError(t, err)
	uitest.WaitUntil(t, ctx, "three line cards", `document.querySelectorAll('.card').length === 3`)
	uitest.WaitUntil(t, ctx, "line 1's figures", `(window.plantLines || []).some(l => l.node === 'shenzhen-line-1' && l.output_today === 2874 && l.alarms.length === 1)`)
	uitest.WaitUntil(t, ctx, "Suzhou stale", `document.querySelector('.card[data-key="site:grinding/suzhou-line-1"]').dataset.stale === 'true'`)
	oee, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('.card[data-key="site:grinding/shenzhen-line-2"] .oee').textContent`))
	require.NoError(t, err)
	assert.Equal(t, "84.0 %", oee)
	png := uitest.Screenshot(t, ctx, "plant-view.png")
	if os.Getenv("PILOTLINE_SCREENSHOT") == "1" {
		require.NoError(t, os.WriteFile(filepath.Join("..", "..", "docs", "plant-view.png"), png, 0o644))
	}

	// The page follows live: Suzhou comes back.
	c.start()
	uitest.WaitUntil(t, ctx, "Suzhou live again", `document.querySelector('.card[data-key="site:grinding/suzhou-line-1"]').dataset.stale === 'false'`)
}
