package trace

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"reflect"
	"strings"

	"github.com/pilotline/pilotline/mes"
)

// recordHead is a record without its audit entries, which WriteJSON
// streams after the other fields: the outer field hides the record's own.
type recordHead struct {
	*mes.TraceRecord
	Audit []mes.AuditEntry `json:"audit,omitempty"`
}

// WriteJSON writes the whole record as one JSON object: the fields of
// mes.TraceRecord, its "audit" entries last (rec.AuditSeq), all on the
// first line, followed by "burs", an array of mes.Bur with operations,
// measurement and results, one bur per line. Audit entries and burs are
// encoded one at a time, so a record of any size is written in constant
// memory.
func WriteJSON(ctx context.Context, w io.Writer, rec *mes.TraceRecord, burs iter.Seq2[*mes.Bur, error]) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	var head bytes.Buffer
	enc := json.NewEncoder(&head)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(recordHead{TraceRecord: rec}); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	// Reopen the record object to append the streamed entries and burs.
	h := bytes.TrimRight(head.Bytes(), "\n")
	bw.Write(h[:len(h)-1])
	bw.WriteString(`,"audit":[`)
	n := 0
	for e, err := range rec.AuditSeq() {
		if err != nil {
			return fmt.Errorf("write json: %w", err)
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		if n++; n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("write json: %w", err)
			}
		}
		head.Reset()
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("write json: audit entry %d: %w", e.Seq, err)
		}
		bw.Write(bytes.TrimRight(head.Bytes(), "\n"))
	}
	bw.WriteString(`],"burs":[` + "\n")
	enc = json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	n = 0
	for b, err := range burs {
		if err != nil {
			return fmt.Errorf("write json: %w", err)
		}
		if n > 0 {
			bw.WriteByte(',')
		}
		if n++; n%checkEvery == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("write json: %w", err)
			}
		}
		if err := enc.Encode(b); err != nil {
			return fmt.Errorf("write json: bur %s: %w", b.Serial, err)
		}
	}
	bw.WriteString("]}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// ReadJSON reads a record written by WriteJSON, handing each bur to fn as
// it is decoded, so a record of any size reads in constant memory. The
// returned record has every field but the burs. Errors: EINVALID (not such
// a record), or fn's error wrapped.
func ReadJSON(r io.Reader, fn func(*mes.Bur) error) (*mes.TraceRecord, error) {
	rec, _, err := readJSON(r, fn, nil)
	return rec, err
}

// jsonFields tells where each top-level field of a record was found.
type jsonFields struct {
	count     map[string]int  // occurrences of each field
	afterBurs map[string]bool // fields found after the burs array
}

// readJSON is ReadJSON leaving the fields named in skip undecoded (zero in
// the record), and telling where each field was found.
func readJSON(r io.Reader, fn func(*mes.Bur) error, skip map[string]bool) (*mes.TraceRecord, jsonFields, error) {
	seen := jsonFields{count: map[string]int{}, afterBurs: map[string]bool{}}
	dec := json.NewDecoder(r)
	bad := func(err error) (*mes.TraceRecord, jsonFields, error) {
		return nil, seen, mes.Errorf(mes.EINVALID, "trace record json: %v", err)
	}
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return bad(fmt.Errorf("want an object"))
	}
	// Each header field is decoded straight into the record: a record's
	// audit entries (one per finished bur) are held once, not also as raw
	// bytes and a re-encoded copy. A repeated field counts with its last
	// value, whole, as with a plain json.Unmarshal of the object.
	var rec mes.TraceRecord
	fields := recordFields(&rec)
	burs := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return bad(err)
		}
		key, _ := t.(string)
		seen.count[key]++
		if burs {
			seen.afterBurs[key] = true
		}
		if key != "burs" {
			f, ok := fields[strings.ToLower(key)]
			if !ok || skip[key] {
				if err := dec.Decode(&discard{}); err != nil {
					return bad(err)
				}
				continue
			}
			f.SetZero()
			if err := dec.Decode(f.Addr().Interface()); err != nil {
				return bad(fmt.Errorf("%s: %w", key, err))
			}
			continue
		}
		burs = true
		if t, err := dec.Token(); err != nil || t != json.Delim('[') {
			return bad(fmt.Errorf("burs: want an array"))
		}
		for dec.More() {
			var b mes.Bur
			if err := dec.Decode(&b); err != nil {
				return bad(err)
			}
			if err := fn(&b); err != nil {
				return nil, seen, err
			}
		}
		if _, err := dec.Token(); err != nil {
			return bad(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return bad(err)
	}
	if rec.Schema != mes.TraceRecordSchema {
		return bad(fmt.Errorf("schema %q, want %q", rec.Schema, mes.TraceRecordSchema))
	}
	return &rec, seen, nil
}

// discard takes any JSON value and keeps none of it.
type discard struct{}

func (*discard) UnmarshalJSON([]byte) error { return nil }

// recordFields maps the JSON name of each field of rec (lower case, as
// encoding/json matches names without regard to case) to the field.
func recordFields(rec *mes.TraceRecord) map[string]reflect.Value {
	v := reflect.ValueOf(rec).Elem()
	out := make(map[string]reflect.Value, v.NumField())
	for i := range v.NumField() {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
		if name == "-" || !v.Type().Field(i).IsExported() {
			continue
		}
		if name == "" {
			name = v.Type().Field(i).Name
		}
		out[strings.ToLower(name)] = v.Field(i)
	}
	return out
}
