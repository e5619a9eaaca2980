package sim

import (
	"testing"
	"time"

	"github.com/gopcua/opcua/ua"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
	pl "github.com/pilotline/pilotline/opcua"
)

// wantType is the Go type a gopcua client decodes for each model type.
var wantType = map[string]func(any) bool{
	pl.TString:        func(v any) bool { _, ok := v.(string); return ok },
	pl.TDouble:        func(v any) bool { _, ok := v.(float64); return ok },
	pl.TInt32:         func(v any) bool { _, ok := v.(int32); return ok },
	pl.TUInt32:        func(v any) bool { _, ok := v.(uint32); return ok },
	pl.TUInt16:        func(v any) bool { _, ok := v.(uint16); return ok },
	pl.TBoolean:       func(v any) bool { _, ok := v.(bool); return ok },
	pl.TDateTime:      func(v any) bool { _, ok := v.(time.Time); return ok },
	pl.TLocalizedText: func(v any) bool { _, ok := v.(*ua.LocalizedText); return ok },
}

func TestDefaultLineServesTheModel(t *testing.T) {
	start := time.Date(2026, 3, 2, 6, 0, 0, 0, time.UTC)
	l := mustStart(t, Options{Seed: 1, Start: start})
	eps := l.Endpoints()
	require.Len(t, eps, 27, "25 grinders, QC1 and the cell")

	found := map[string]bool{}
	for _, ep := range eps {
		require.NoError(t, mes.ValidEndpointURL(ep.URL))
		if ep.ID == CellEndpoint {
			continue
		}
		c := dial(t, ep.URL)
		ns := nsIndexes(t, c)
		objs := machineObjects(t, c, ns, 0)
		require.Len(t, objs, 1, "endpoint %s holds one machine", ep.ID)
		obj, ok := objs[ep.ID]
		require.True(t, ok, "endpoint %s serves machine %s", ep.ID, ep.ID)
		found[ep.ID] = true

		inspection := ep.ID == "QC1"
		sigs := pl.MachineSignals(inspection)
		ids := resolve(t, c, ns, obj, sigs)
		vals := readValues(t, c, ids)
		for i, s := range sigs {
			dv := vals[i]
			require.Equal(t, ua.StatusOK, dv.Status, "%s %s", ep.ID, s.Key)
			assert.True(t, wantType[s.Type](dv.Value.Value()), "%s %s: want %s, got %T", ep.ID, s.Key, s.Type, dv.Value.Value())
		}
		// Every value carries simulated time as its source timestamp.
		st := vals[0].SourceTimestamp
		assert.False(t, st.Before(start), "source timestamp %v is simulated time", st)
		assert.True(t, st.Before(start.Add(time.Hour)), "source timestamp %v is simulated time", st)
	}
	assert.Len(t, found, 26)

	// The cell: robots and stations under Objects/PL:Cell, found by path from Objects.
	c := dial(t, endpointURL(t, l, CellEndpoint))
	ns := nsIndexes(t, c)
	var sigs []pl.Signal
	for _, r := range []string{"R1", "R2", "R3", "R4", "R5"} {
		for _, s := range pl.CellSignals(true) {
			s.Path = append([]pl.QName{{NS: pl.NsPL, Name: "Cell"}, {NS: pl.NsPL, Name: r}}, s.Path...)
			sigs = append(sigs, s)
		}
	}
	for _, st := range []string{"MAG", "OUT"} {
		for _, s := range pl.CellSignals(false) {
			s.Path = append([]pl.QName{{NS: pl.NsPL, Name: "Cell"}, {NS: pl.NsPL, Name: st}}, s.Path...)
			sigs = append(sigs, s)
		}
	}
	ids := resolve(t, c, ns, ua.NewNumericNodeID(0, 85), sigs)
	vals := readValues(t, c, ids)
	for i, s := range sigs {
		assert.True(t, wantType[s.Type](vals[i].Value.Value()), "%v: got %T", s.Path, vals[i].Value.Value())
	}
	assert.Equal(t, uint32(2000), vals[len(vals)-4].Value.Value(), "full magazine")

	// Objects → MA:Machines resolves to the well-known folder id.
	got := resolve(t, c, ns, ua.NewNumericNodeID(0, 85), []pl.Signal{{Key: "machines", Path: []pl.QName{{NS: pl.NsMA, Name: "Machines"}}}})
	assert.Equal(t, ns[pl.NsMA], got[0].Namespace())
	assert.Equal(t, uint32(pl.MachinesFolderID), got[0].IntID())
}
