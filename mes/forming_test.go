package mes_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

func TestCharacteristicPointsFormingGrinderAndProductionOrder(t *testing.T) {
	p := &mes.Product{Route: []mes.Operation{
		{Number: 10, Group: "SHK", Forms: []string{mes.CharShankDiameter}}, {Number: 20, Group: "HEAD"},
		{Number: 30, Group: "FLT", Forms: []string{mes.CharWorkingLength}}, {Number: 40, Group: "NECK"}, {Number: 50, Group: "QC"},
	}}
	t0 := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	bur := func(serial string, measured time.Duration, flt string, v float64) *mes.Bur {
		return &mes.Bur{Serial: serial, Operations: []mes.OperationRecord{
			{Number: 10, Machine: "G01"}, {Number: 20, Machine: "G06"}, {Number: 30, Machine: flt}, {Number: 40, Machine: "G21"}, {Number: 50, Machine: "QC1"},
		}, Measurement: &mes.Measurement{Time: t0.Add(measured), Values: map[string]float64{mes.CharWorkingLength: v, mes.CharShankDiameter: 1.595}}}
	}
	// Serial order differs from production order: B-2 was measured first.
	burs := []*mes.Bur{bur("B-1", 2*time.Minute, "G11", 1.30), bur("B-2", time.Minute, "G12", 1.31), bur("B-3", 3*time.Minute, "G11", 1.29)}

	pts := p.CharacteristicPoints(burs, mes.CharWorkingLength)
	require.Len(t, pts, 3)
	assert.Equal(t, []string{"B-2", "B-1", "B-3"}, []string{pts[0].Serial, pts[1].Serial, pts[2].Serial})
	assert.Equal(t, []string{"G12", "G11", "G11"}, []string{pts[0].Machine, pts[1].Machine, pts[2].Machine}, "the flutes grinder, not QC1")

	pts = p.CharacteristicPoints(burs, mes.CharShankDiameter)
	assert.Equal(t, "G01", pts[0].Machine)

	// A characteristic no operation names stays with the bur's last one.
	burs[0].Measurement.Values[mes.CharHeadDiameter] = 1.4
	pts = p.CharacteristicPoints(burs[:1], mes.CharHeadDiameter)
	assert.Equal(t, "QC1", pts[0].Machine)
}
