package mes_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/pilotline/pilotline/mes"
)

func TestValidID(t *testing.T) {
	tests := []struct {
		id   string
		want string // substring of the message; "" means valid
	}{
		{"B000001", ""},
		{"G01", ""},
		{"lot_2026.03-a", ""},
		{"", "required"},
		{strings.Repeat("a", mes.MaxIDLen), ""},
		{strings.Repeat("a", mes.MaxIDLen+1), "longer than"},
		{".hidden", "not a valid id"},
		{"-x", "not a valid id"},
		{"a..b", "not a valid id"},
		{"a/b", "not a valid id"},
		{"a b", "not a valid id"},
		{"批次", "not a valid id"},
	}
	for _, tt := range tests {
		err := mes.ValidID("batch", tt.id)
		if tt.want == "" {
			assert.NoError(t, err, tt.id)
			continue
		}
		assert.Equal(t, mes.EINVALID, mes.ErrorCode(err), tt.id)
		assert.Contains(t, mes.ErrorMessage(err), "batch: ", tt.id)
		assert.Contains(t, mes.ErrorMessage(err), tt.want, tt.id)
	}
}

func TestValidateSerial_NoPathWalk(t *testing.T) {
	assert.NoError(t, mes.ValidateSerial("B000001/00001"))
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(mes.ValidateSerial("/B000001-00001")))
	assert.Equal(t, mes.EINVALID, mes.ErrorCode(mes.ValidateSerial("B000001/../x")))
}
