package mes_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pilotline/pilotline/mes"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSerialPattern(t *testing.T) {
	tests := []struct {
		pattern string
		batch   string
		seq     int
		want    string
		wantErr string
	}{
		{pattern: "{batch}-{seq:05}", batch: "B000001", seq: 7, want: "B000001-00007"},
		{pattern: "{batch}-{seq:05}", batch: "B000001", seq: 123456, want: "B000001-123456"},
		{pattern: "PL/{batch}.{seq}", batch: "B000012", seq: 42, want: "PL/B000012.42"},
		{pattern: "S{seq:08}", batch: "B000001", seq: 3, want: "S00000003"},
		{pattern: "{batch}-{seq:05}", batch: "B000001", seq: 0, wantErr: "seq must be"},
		{pattern: "{batch}-{seq:05}", batch: "B 1", seq: 1, wantErr: "not allowed"},
		{pattern: "{batch}-{seq:05}", batch: strings.Repeat("B", 40), seq: 1, wantErr: "characters"},
		{pattern: "{batch}", wantErr: "exactly once"},
		{pattern: "{seq}{seq}", wantErr: "exactly once"},
		{pattern: "{batch}{batch}{seq}", wantErr: "at most once"},
		{pattern: "{batch}-{seq:5}", wantErr: "{seq:0N}"},
		{pattern: "{batch}-{seq:0x}", wantErr: "{seq:0N}"},
		{pattern: "{lot}-{seq}", wantErr: "unknown placeholder"},
		{pattern: "{batch-{seq}", wantErr: "unknown placeholder"},
		{pattern: "{batch}-{seq", wantErr: "unclosed"},
		{pattern: "{batch} {seq}", wantErr: "not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"/"+tt.want+tt.wantErr, func(t *testing.T) {
			p, err := mes.ParseSerialPattern(tt.pattern)
			var got string
			if err == nil {
				got, err = p.Format(tt.batch, tt.seq)
			}
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Equal(t, mes.EINVALID, mes.ErrorCode(err))
				assert.Contains(t, mes.ErrorMessage(err), tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.NoError(t, mes.ValidateSerial(got))
		})
	}
}

func TestSerialPattern_Unique(t *testing.T) {
	p := mes.MustParseSerialPattern("{batch}-{seq:03}")
	seen := map[string]bool{}
	for seq := 1; seq <= 2000; seq++ {
		s, err := p.Format("B000001", seq)
		require.NoError(t, err)
		require.False(t, seen[s], "duplicate serial %s", s)
		seen[s] = true
	}
}

func ExampleSerialPattern_Format() {
	p := mes.MustParseSerialPattern("{batch}-{seq:05}")
	s, _ := p.Format("B000001", 42)
	fmt.Println(s)
	// Output: B000001-00042
}
