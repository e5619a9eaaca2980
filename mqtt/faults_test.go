package mqtt_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mqtt"
	"github.com/pilotline/pilotline/mqtt/mqtttest"
	spb "github.com/pilotline/pilotline/mqtt/sparkplugb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/proto"
)

// cycles returns grinder G01's finished jobs with part counters from..to,
// one every 12 s of line time after t0.
func cycles(t0 time.Time, from, to uint64) []mes.MachineEvent {
	var out []mes.MachineEvent
	for n := from; n <= to; n++ {
		end := t0.Add(time.Duration(n) * 12 * time.Second)
		out = append(out, mes.MachineEvent{Machine: "G01", Kind: mes.EventCycle, SourceTime: end, Cycle: &mes.Cycle{
			Seq: n, Serial: fmt.Sprintf("B000001-%05d", n), Program: "O1010_SHANK", Start: end.Add(-11 * time.Second), End: end, EnergyKWh: 0.01}})
	}
	return out
}

// burCounters are the part counters of the bur-finished events received,
// in arrival order.
func burCounters(tb testing.TB, ms []mqtttest.Message) []uint64 {
	var out []uint64
	for _, m := range ms {
		if strings.HasSuffix(m.Topic, "/G01/event/bur-finished") {
			var bf mqtt.BurFinished
			require.NoError(tb, json.Unmarshal(m.Payload, &bf))
			out = append(out, bf.Counter)
		}
	}
	return out
}

func seqTo(n uint64) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = uint64(i + 1)
	}
	return out
}

func waitQueued(tb testing.TB, p *runningPublisher, n int) {
	tb.Helper()
	deadline := time.Now().Add(mqtttest.Wait)
	for {
		st, err := p.outbox.Stats(context.Background())
		require.NoError(tb, err)
		if st.Queued >= n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("outbox holds %d messages, want ≥ %d", st.Queued, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPublisher_BrokerOutage kills the broker for 60 s of line time while
// the line goes on: every finished bur reaches a historian's persistent
// session exactly once and in order, the line is born again with the next
// bdSeq, and what happened during the outage is marked historical.
func TestPublisher_BrokerOutage(t *testing.T) {
	broker := mqtttest.MustMosquittoWith(t, mqtttest.BrokerOptions{Persistent: true})
	line := testLine(t)
	rec := mqtttest.MustSessionRecorder(t, broker.URL(), "historian", "pilotline/#", "spBv1.0/#")
	p := startPublisher(t, line, broker.URL(), t.TempDir(), nil)
	ctx := context.Background()
	t0 := time.Now().UTC().Truncate(time.Millisecond)

	waitBirths(t, rec, line, 1)
	require.NoError(t, p.Publish(ctx, cycles(t0, 1, 5)...))
	rec.WaitFor("the burs before the outage", func(ms []mqtttest.Message) bool { return len(burCounters(t, ms)) == 5 })
	// The broker saves its sessions when retained messages arrive; one
	// more, after the historian has acknowledged the burs, saves them as
	// delivered, so the restarted broker does not deliver them again.
	rec.Checkpoint()

	broker.Kill()
	// Five burs, 60 s of line time, while the broker is down.
	require.NoError(t, p.Publish(ctx, cycles(t0, 6, 10)...))
	waitQueued(t, p, 5)
	broker.Start()

	waitBirths(t, rec, line, 2)
	require.NoError(t, p.Publish(ctx, cycles(t0, 11, 15)...))
	ms := rec.WaitFor("every bur", func(ms []mqtttest.Message) bool { return len(burCounters(t, ms)) >= 15 })
	assert.Equal(t, seqTo(15), burCounters(t, ms), "every bur exactly once, in order")

	var bdSeqs []uint64
	historical := map[uint64]bool{} // G01 part counter → DDATA marked historical
	counterAlias := uint64(0)
	for _, m := range ms {
		if !strings.HasPrefix(m.Topic, "spBv1.0/") {
			continue
		}
		var pl spb.Payload
		require.NoError(t, proto.Unmarshal(m.Payload, &pl))
		for _, mt := range pl.Metrics {
			switch {
			case strings.Contains(m.Topic, "/NBIRTH/") && mt.GetName() == mqtt.MetricBdSeq:
				bdSeqs = append(bdSeqs, mt.GetLongValue())
			case strings.HasSuffix(m.Topic, "/DBIRTH/cnc-pilot-line-1/G01") && mt.GetName() == mqtt.MetricCounter:
				counterAlias = mt.GetAlias()
			case strings.HasSuffix(m.Topic, "/DDATA/cnc-pilot-line-1/G01") && mt.GetAlias() == counterAlias:
				historical[mt.GetLongValue()] = mt.GetIsHistorical()
			}
		}
	}
	require.Len(t, bdSeqs, 2, "born once per connection")
	assert.Greater(t, bdSeqs[1], bdSeqs[0], "bdSeq grows with every CONNECT, failed ones included")
	for n := uint64(6); n <= 10; n++ {
		assert.True(t, historical[n], "bur %d was queued during the outage", n)
	}
	assert.False(t, historical[1])
	assert.False(t, historical[15])

	st, err := p.outbox.Stats(ctx)
	require.NoError(t, err)
	assert.Zero(t, st.Dropped)
}

// childEnv runs TestPublisher_KilledWhileOffline's child: a publisher that
// queues burs for a broker that is down and then waits to be killed.
const childEnv = "PILOTLINE_MQTT_OFFLINE_CHILD"

func TestPublisher_OfflineChild(t *testing.T) {
	dir := os.Getenv(childEnv)
	if dir == "" {
		t.Skip("the child process of TestPublisher_KilledWhileOffline")
	}
	p := startPublisher(t, testLine(t), os.Getenv(childEnv+"_URL"), dir, nil)
	t0, err := time.Parse(time.RFC3339Nano, os.Getenv(childEnv+"_T0"))
	require.NoError(t, err)
	require.NoError(t, p.Publish(context.Background(), cycles(t0, 1, 20)...))
	waitQueued(t, p, 20)
	fmt.Println("QUEUED")
	select {} // until SIGKILL
}

// TestPublisher_KilledWhileOffline kills Pilotline with SIGKILL while the
// broker is down: the queued messages survive in the store and go out in
// order once Pilotline runs again and the broker is back.
func TestPublisher_KilledWhileOffline(t *testing.T) {
	broker := mqtttest.MustMosquittoWith(t, mqtttest.BrokerOptions{Persistent: true})
	rec := mqtttest.MustSessionRecorder(t, broker.URL(), "historian", "pilotline/#")
	broker.Kill()

	dir := t.TempDir()
	t0 := time.Now().UTC().Truncate(time.Millisecond)
	child := exec.Command(os.Args[0], "-test.run", "^TestPublisher_OfflineChild$", "-test.count=1")
	child.Env = append(os.Environ(), childEnv+"="+dir, childEnv+"_URL="+broker.URL(), childEnv+"_T0="+t0.Format(time.RFC3339Nano))
	out, err := child.StdoutPipe()
	require.NoError(t, err)
	child.Stderr = os.Stderr
	require.NoError(t, child.Start())
	t.Cleanup(func() { child.Process.Kill(); child.Wait() })
	queued := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == "QUEUED" {
				queued <- true
				return
			}
		}
		queued <- false
	}()
	select {
	case ok := <-queued:
		require.True(t, ok, "the child queued the burs")
	case <-time.After(mqtttest.Wait):
		t.Fatal("the child did not queue the burs")
	}
	require.NoError(t, child.Process.Kill())
	child.Wait()

	broker.Start()
	startPublisher(t, testLine(t), broker.URL(), dir, nil)
	ms := rec.WaitFor("the queued burs", func(ms []mqtttest.Message) bool { return len(burCounters(t, ms)) >= 20 })
	assert.Equal(t, seqTo(20), burCounters(t, ms))
}
