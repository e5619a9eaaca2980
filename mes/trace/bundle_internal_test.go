package trace

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/pilotline/pilotline/mes"
)

// TestSameEntry_EveryField changes each field of an audit entry in turn:
// sameEntry must notice every one, including fields added later.
func TestSameEntry_EveryField(t *testing.T) {
	base := mes.AuditEntry{Seq: 4, Time: time.Date(2026, 3, 2, 1, 0, 0, 0, time.UTC), Actor: "qa.li", Action: mes.AuditChange,
		ObjectType: mes.AuditObjectNC, ObjectID: "NC000001", Batch: "B000001", BatchPrevHash: "a", Old: json.RawMessage(`{"s":"open"}`),
		New: json.RawMessage(`{"s":"closed <&>"}`), Reason: "r", PrevHash: "b", Hash: "c"}
	same := base
	same.Time = base.Time.In(time.FixedZone("CST", 8*3600))
	same.New = json.RawMessage(`{ "s" : "closed \u003c\u0026\u003e" }`)
	assert.True(t, sameEntry(&base, &same), "same instant and the same JSON, written differently")

	typ := reflect.TypeFor[mes.AuditEntry]()
	for i := range typ.NumField() {
		f := typ.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			changed := base
			v := reflect.ValueOf(&changed).Elem().Field(i)
			switch {
			case f.Type == reflect.TypeFor[time.Time]():
				v.Set(reflect.ValueOf(base.Time.Add(time.Second)))
			case f.Type == reflect.TypeFor[json.RawMessage]():
				v.Set(reflect.ValueOf(json.RawMessage(`{"s":"other"}`)))
			case v.Kind() == reflect.String:
				v.SetString(v.String() + "x")
			case v.Kind() == reflect.Uint64:
				v.SetUint(v.Uint() + 1)
			default:
				require.Failf(t, "field of a kind the test does not know", "%s %s: teach sameEntry and this test", f.Name, f.Type)
			}
			assert.False(t, sameEntry(&base, &changed))
		})
	}
}
