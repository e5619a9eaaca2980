package mes_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

func TestTraceRecordLotGS1Data(t *testing.T) {
	tests := []struct {
		name, di, pi string
		want, es     string
	}{
		{"lot", "04012345000016", "(11)260303(10)B000001", "01040123450000161126030310B000001", "(01)04012345000016(11)260303(10)B000001"},
		{"lot holding parentheses", "04012345000016", "(11)260303(10)L(10)x", "01040123450000161126030310L(10)x", "(01)04012345000016(11)260303(10)L(10)x"},
		{"lot of 20 characters", "04012345000016", "(11)260303(10)ABCDEFGHIJ0123456789", "01040123450000161126030310ABCDEFGHIJ0123456789", "(01)04012345000016(11)260303(10)ABCDEFGHIJ0123456789"},
		{"no GTIN", "", "(11)260303(10)B000001", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &mes.TraceRecord{UDIDI: tc.di, LotPI: tc.pi}
			got, err := r.LotGS1Data()
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			assert.Equal(t, tc.es, r.LotElementString())
		})
	}

	bad := []struct{ name, di, pi string }{
		{"short GTIN", "4012345000016", "(11)260303(10)B1"},
		{"wrong check digit", "04012345000017", "(11)260303(10)B1"},
		{"no lot", "04012345000016", "(11)260303(10)"},
		{"lot too long", "04012345000016", "(11)260303(10)ABCDEFGHIJ0123456789X"},
		{"space in lot", "04012345000016", "(11)260303(10)B 1"},
		{"date not digits", "04012345000016", "(11)26O303(10)B1"},
		{"serial in lot PI", "04012345000016", "(21)B1"},
		{"empty PI", "04012345000016", ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			got, err := (&mes.TraceRecord{UDIDI: tc.di, LotPI: tc.pi}).LotGS1Data()
			assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
			assert.Empty(t, got)
		})
	}
}

// A bur's GS1 data begins with its lot's, when the bur finished on the day
// the batch completed: the lot carrier and the bur carriers agree.
func TestTraceRecordLotGS1Data_AgreesWithBurUDI(t *testing.T) {
	b, p, _ := sigFixture()
	end := b.Created.Add(20 * time.Hour)
	b.Transitions = []mes.Transition{{From: mes.BatchRunning, To: mes.BatchCompleted, At: end}}
	cst := time.FixedZone("CST", 8*3600)
	r := mes.NewTraceRecord(b, p, nil, nil, nil, mes.ChainHead{}, cst, end)
	lot, err := r.LotGS1Data()
	require.NoError(t, err)
	bur := mes.BurUDI(p, &mes.Bur{Serial: "B000001-00001", Batch: b.ID, Finished: end.Add(-time.Minute)}, cst)
	require.NoError(t, bur.Validate())
	assert.Equal(t, lot+"\x1d21B000001-00001", bur.GS1Data())
}
