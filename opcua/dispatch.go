package opcua

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// dispatchTimeout bounds a dispatch when the caller's context has no deadline.
const dispatchTimeout = 5 * time.Second

// Dispatch writes job to its machine following the model's dispatch
// protocol: Serial, Program, ProgramVersion and Seq = Accepted+1 in one Write
// request, every status code checked. Errors: ENOTFOUND (unknown machine),
// ECONFLICT (the machine rejected the job or lacks dispatch nodes),
// EINTERNAL (not connected, communication failure).
func (a *Acquisition) Dispatch(ctx context.Context, job mes.Job) error {
	o, ok := a.byID[job.Machine]
	if !ok || !o.isMachine() {
		return mes.Errorf(mes.ENOTFOUND, "dispatch: unknown machine %q", job.Machine)
	}
	if job.Serial == "" || job.Program == "" {
		return mes.Errorf(mes.EINVALID, "dispatch to %s: serial and program are required", job.Machine)
	}
	ep := a.epOf[job.Machine]
	s := ep.current()
	if s == nil {
		return mes.Errorf(mes.EINTERNAL, "dispatch to %s: machine not connected (endpoint %s)", job.Machine, ep.cfg.ID)
	}
	ids := s.ids[o]
	node := func(key string) *ua.NodeID {
		if ids == nil {
			return nil
		}
		return ids[o.idx[key]]
	}
	serial, prog, ver, seqN, acc := node(KeyDispatchSerial), node(KeyDispatchProg), node(KeyDispatchVer), node(KeyDispatchSeq), node(KeyDispatchAcc)
	if serial == nil || prog == nil || ver == nil || seqN == nil || acc == nil {
		return mes.Errorf(mes.ECONFLICT, "dispatch to %s: the machine has no PL:Dispatch nodes", job.Machine)
	}
	if _, has := ctx.Deadline(); !has {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, dispatchTimeout)
		defer cancel()
	}
	// IMPORTANT: one dispatch per machine at a time, or two could both write Accepted+1.
	o.dispatchMu.Lock()
	defer o.dispatchMu.Unlock()

	rres, err := s.c.Read(ctx, &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither,
		NodesToRead: []*ua.ReadValueID{{NodeID: acc, AttributeID: ua.AttributeIDValue}}})
	if err != nil {
		return mes.Errorf(mes.EINTERNAL, "dispatch to %s: read Accepted: %v", job.Machine, err)
	}
	if len(rres.Results) != 1 || !good(rres.Results[0]) {
		st := ua.StatusBad
		if len(rres.Results) == 1 {
			st = rres.Results[0].Status
		}
		return mes.Errorf(mes.EINTERNAL, "dispatch to %s: read Accepted: %s", job.Machine, statusText(st))
	}
	accepted := o.numValue(rres.Results[0])
	seq := uint32(accepted) + 1

	wv := func(n *ua.NodeID, v any) *ua.WriteValue {
		return &ua.WriteValue{NodeID: n, AttributeID: ua.AttributeIDValue,
			Value: &ua.DataValue{EncodingMask: ua.DataValueValue, Value: ua.MustVariant(v)}}
	}
	req := &ua.WriteRequest{NodesToWrite: []*ua.WriteValue{
		wv(serial, job.Serial), wv(prog, job.Program), wv(ver, job.ProgramVersion), wv(seqN, seq),
	}}
	res, err := s.c.Write(ctx, req)
	if err != nil {
		return mes.Errorf(mes.EINTERNAL, "dispatch to %s: write: %v", job.Machine, err)
	}
	if sr := res.ResponseHeader.ServiceResult; sr != ua.StatusOK {
		return mes.Errorf(mes.ECONFLICT, "dispatch to %s rejected: %s", job.Machine, statusText(sr))
	}
	names := []string{"Serial", "Program", "ProgramVersion", "Seq"}
	if len(res.Results) != len(names) {
		return mes.Errorf(mes.EINTERNAL, "dispatch to %s: %d write results for %d values", job.Machine, len(res.Results), len(names))
	}
	var bad []string
	for i, st := range res.Results {
		if st != ua.StatusOK {
			bad = append(bad, names[i]+": "+statusText(st))
		}
	}
	if len(bad) > 0 {
		return mes.Errorf(mes.ECONFLICT, "dispatch to %s rejected (seq %d): %s", job.Machine, seq, strings.Join(bad, "; "))
	}
	a.log.Debug("job dispatched", "machine", job.Machine, "serial", job.Serial, "program", job.Program, "seq", seq)
	return nil
}

func (o *object) numValue(dv *ua.DataValue) float64 {
	tmp := &object{idx: map[string]int{"v": 0}}
	return tmp.num(snapshot{dv}, "v")
}

// statusText names an OPC UA status code the way operators look it up.
func statusText(st ua.StatusCode) string {
	name := fmt.Sprintf("0x%08X", uint32(st))
	if d, ok := ua.StatusCodes[st]; ok {
		name = d.Name + " (" + name + ")"
	}
	return name
}
