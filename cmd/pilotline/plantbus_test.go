package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/mqtt/mqtttest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestServe_PublishesToThePlantBus runs the whole line with --mqtt against
// Mosquitto: the line is born as a Sparkplug edge node and finished burs
// appear in the namespace.
func TestServe_PublishesToThePlantBus(t *testing.T) {
	broker := mqtttest.MustMosquitto(t)
	root := "pilotline/site/grinding/cnc-pilot-line-1"
	rec := mqtttest.MustRecorder(t, broker.URL(), "spBv1.0/#", root+"/#")
	m := MustRunServe(t, "--speed", "400", "--mqtt", broker.URL())

	msgs := rec.WaitFor("a finished bur", func(ms []mqtttest.Message) bool {
		for _, m := range ms {
			if strings.HasSuffix(m.Topic, "/event/bur-finished") {
				return true
			}
		}
		return false
	})
	var births, data int
	var bf mqtt.BurFinished
	for _, msg := range msgs {
		switch {
		case strings.Contains(msg.Topic, "/NBIRTH/cnc-pilot-line-1"):
			births++
		case strings.Contains(msg.Topic, "/DDATA/"):
			data++
		case strings.HasSuffix(msg.Topic, "/event/bur-finished") && bf.Serial == "":
			require.NoError(t, json.Unmarshal(msg.Payload, &bf))
		}
	}
	assert.Equal(t, 1, births)
	assert.Positive(t, data)
	assert.NotEmpty(t, bf.Serial)
	assert.Positive(t, bf.Operation, "the route operation of the program")
	assert.True(t, m.publisher.Status().Connected)
}

func TestServe_BadMQTTURL(t *testing.T) {
	for _, url := range []string{"http://127.0.0.1:1883", "tcp://127.0.0.1", "broker"} {
		var stderr bytes.Buffer
		m := NewServeMain(&bytes.Buffer{}, &stderr)
		err := m.ParseFlags(context.Background(), []string{"--mqtt", url, "--data", t.TempDir()})
		require.Error(t, err, url)
		assert.Contains(t, err.Error(), "--mqtt", url)
	}
}

// TestPlant_ShowsServedLine runs `pilotline serve --mqtt` and `pilotline
// plant --mqtt` against one broker: the plant view lists the line, live,
// with its twin's URL.
func TestPlant_ShowsServedLine(t *testing.T) {
	broker := mqtttest.MustMosquitto(t)
	s := MustRunServe(t, "--speed", "400", "--mqtt", broker.URL())
	p := NewPlantMain(&bytes.Buffer{}, &bytes.Buffer{})
	require.NoError(t, p.ParseFlags(context.Background(), []string{"--mqtt", broker.URL(), "--http", "127.0.0.1:0", "--log-level", "warn"}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done; p.Close() })
	<-p.Ready()

	var lines struct {
		Lines []struct {
			Node     string `json:"node"`
			Name     string `json:"name"`
			Stale    bool   `json:"stale"`
			TwinURL  string `json:"twin_url"`
			Grinders int    `json:"grinders"`
		} `json:"lines"`
	}
	eventually(t, mqtttest.Wait, "the line in the plant view", func() bool {
		return getJSON(t, p.URL()+"api/v1/lines", &lines) == 200 && len(lines.Lines) == 1 && !lines.Lines[0].Stale && lines.Lines[0].Grinders == 25
	})
	assert.Equal(t, "cnc-pilot-line-1", lines.Lines[0].Node)
	assert.Equal(t, "CNC pilot line 1", lines.Lines[0].Name)
	assert.Equal(t, s.URL(), lines.Lines[0].TwinURL)
}

func TestPlant_BadFlags(t *testing.T) {
	for _, args := range [][]string{{}, {"--mqtt", "http://x:1"}, {"--mqtt", "tcp://127.0.0.1:1883", "--password-env", "PILOTLINE_TEST_UNSET_VAR"}} {
		p := NewPlantMain(&bytes.Buffer{}, &bytes.Buffer{})
		assert.Error(t, p.ParseFlags(context.Background(), args), "%v", args)
	}
}
