package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/fixtures"
)

// BenchmarkTwinLatency measures the end-to-end latency from a value change
// in a simulated grinder (its OPC UA source timestamp, carried through
// acquisition, the store and the hub as the delta's "src") to the
// WebSocket frame arriving at a viewer, with polling and with
// subscriptions at 100 ms. Speed 1, so the simulated clock is the wall clock.
func BenchmarkTwinLatency(b *testing.B) {
	for _, mode := range []string{"poll", "subscribe"} {
		b.Run(mode, func(b *testing.B) {
			var m map[string]any
			require.NoError(b, json.Unmarshal(fixtures.LineJSON, &m))
			acq := m["acquisition"].(map[string]any)
			acq["mode"], acq["poll_interval_ms"], acq["publish_interval_ms"] = mode, 100, 100
			cfg, err := json.Marshal(m)
			require.NoError(b, err)
			path := filepath.Join(b.TempDir(), "line.json")
			require.NoError(b, os.WriteFile(path, cfg, 0o600))

			s := MustRunServe(b, "--speed", "1", "--config", path, "--tick", "20ms")
			url := "ws://" + strings.TrimPrefix(strings.TrimSuffix(s.URL(), "/"), "http://") + "/ws/twin"
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			conn, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
			require.NoError(b, err)
			defer conn.Close()

			warm := time.Now().Add(5 * time.Second) // connections settle, first snapshot
			end := warm.Add(40 * time.Second)
			var lat []float64
			var newest time.Time // each change is measured once: by the first delta carrying it
			for time.Now().Before(end) {
				require.NoError(b, conn.SetReadDeadline(end.Add(2*time.Second)))
				_, data, err := conn.ReadMessage()
				require.NoError(b, err)
				recv := time.Now()
				var msg struct {
					Type string    `json:"type"`
					Time time.Time `json:"time"`
					Src  time.Time `json:"src"`
				}
				require.NoError(b, json.Unmarshal(data, &msg))
				src := msg.Src
				if src.IsZero() {
					src = msg.Time
				}
				if msg.Type != "delta" || !src.After(newest) {
					continue
				}
				newest = src
				if recv.Before(warm) {
					continue
				}
				lat = append(lat, float64(recv.Sub(src))/float64(time.Millisecond))
			}
			require.NotEmpty(b, lat, "deltas carrying new changes")
			slices.Sort(lat)
			q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
			b.ReportMetric(q(0.50), "p50_ms")
			b.ReportMetric(q(0.99), "p99_ms")
			b.ReportMetric(float64(len(lat)), "deltas")
			b.Logf("%s: %d deltas, p50 %.1f ms, p99 %.1f ms, max %.1f ms", mode, len(lat), q(0.5), q(0.99), lat[len(lat)-1])
		})
	}
}
