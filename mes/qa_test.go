package mes_test

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pilotline/pilotline/mes"
)

func TestSignatureTarget(t *testing.T) {
	open := []mes.Nonconformance{{ID: "NC000001", Batch: "B1", State: mes.NCOpen}}
	closed := []mes.Nonconformance{{ID: "NC000001", Batch: "B1", State: mes.NCClosed}}
	tests := []struct {
		state   mes.BatchState
		ncs     []mes.Nonconformance
		meaning mes.SignatureMeaning
		want    mes.BatchState
		code    string
	}{
		{mes.BatchCompleted, closed, mes.MeaningReleased, mes.BatchQAReleased, ""},
		{mes.BatchCompleted, nil, mes.MeaningRejected, mes.BatchRejected, ""},
		{mes.BatchCompleted, open, mes.MeaningReleased, "", mes.ECONFLICT},
		{mes.BatchHeld, nil, mes.MeaningReleased, "", mes.ECONFLICT},
		{mes.BatchRunning, nil, mes.MeaningRejected, "", mes.ECONFLICT},
		{mes.BatchRunning, open, mes.MeaningReviewed, "", ""},
		{mes.BatchCompleted, nil, "approved", "", mes.EINVALID},
	}
	for _, tt := range tests {
		got, err := mes.SignatureTarget(&mes.Batch{ID: "B1", State: tt.state}, tt.ncs, tt.meaning)
		assert.Equal(t, tt.want, got, "%s %s", tt.state, tt.meaning)
		assert.Equal(t, tt.code, mes.ErrorCode(err), "%s %s", tt.state, tt.meaning)
	}
}
