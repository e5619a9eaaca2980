package opcua

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// Options configure an Acquisition.
type Options struct {
	Line    *mes.LineConfig // with Endpoints bound: every machine, robot and station has Endpoint set
	DataDir string          // the client certificate and key live in DataDir/pki (created on first start)
	Sink    mes.EventSink   // receives every event; Publish may block briefly (durable store)
	Logger  *slog.Logger

	// WholeReads reads every node every poll cycle instead of the fast
	// values every cycle, the slow ones every tenth and the alarm slots
	// through PL:Alarms/Latest; the baseline of the benchmarks.
	WholeReads bool
}

// MachineStatus is what acquisition knows about one machine, robot or station.
type MachineStatus struct {
	ID         string           `json:"id"`
	Kind       string           `json:"kind"` // grinder, inspection, robot, magazine, output
	Endpoint   string           `json:"endpoint"`
	URL        string           `json:"url"`
	CommOK     bool             `json:"comm_ok"`
	State      mes.MachineState `json:"state"`
	Mode       string           `json:"mode,omitempty"`
	LastSource time.Time        `json:"last_source,omitempty"` // newest source timestamp received
	LastLocal  time.Time        `json:"last_local,omitempty"`  // local time of the last good read
	LastError  string           `json:"last_error,omitempty"`
	// Unconnected is a robot or station configured without an endpoint:
	// not read, inferred from the machines' events.
	Unconnected bool `json:"unconnected,omitempty"`
	// Capabilities are what Pilotline derives from the machine, Lacks what
	// it cannot for want of nodes (see MachineCapabilities); both empty
	// before the first connection.
	Capabilities []string `json:"capabilities,omitempty"`
	Lacks        []string `json:"lacks,omitempty"`
}

// Acquisition reads every machine of the line over OPC UA, turns what it
// reads into mes events for the sink, and writes dispatch to the machines.
type Acquisition struct {
	line       *mes.LineConfig
	sink       mes.EventSink
	log        *slog.Logger
	ident      *clientIdentity
	eps        []*endpoint
	byID       map[string]*object
	epOf       map[string]*endpoint
	order      []string
	wholeReads bool
	mu         sync.Mutex // guards status
	status     map[string]*MachineStatus
}

var _ mes.MachineWriter = (*Acquisition)(nil)

// New checks the options and prepares acquisition; it connects nothing.
// The client certificate is created in DataDir/pki if absent. Errors: EINVALID.
func New(o Options) (*Acquisition, error) {
	if o.Line == nil {
		return nil, mes.Errorf(mes.EINVALID, "acquisition: no line configuration")
	}
	if o.Sink == nil {
		return nil, mes.Errorf(mes.EINVALID, "acquisition: no event sink")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	a := &Acquisition{line: o.Line, sink: o.Sink, log: log.With("component", "opcua"), wholeReads: o.WholeReads,
		byID: map[string]*object{}, epOf: map[string]*endpoint{}, status: map[string]*MachineStatus{}}
	acq := o.Line.Acquisition
	eps := map[string]*endpoint{}
	needCert := false
	for _, e := range o.Line.Endpoints {
		if err := mes.ValidEndpointURL(e.URL); err != nil {
			return nil, mes.Errorf(mes.EINVALID, "acquisition: endpoint %s: %v", e.ID, err)
		}
		ep := newEndpoint(a, acq, e)
		if ep.sec.pwEnv != "" {
			if _, set := os.LookupEnv(ep.sec.pwEnv); !set {
				return nil, mes.Errorf(mes.EINVALID, "acquisition: endpoint %s: password_env %s is not set", e.ID, ep.sec.pwEnv)
			}
		}
		if ep.sec.policy != "None" {
			needCert = true
		}
		eps[e.ID] = ep
		a.eps = append(a.eps, ep)
	}
	add := func(id, node, epID, kind string, k objectKind) error {
		ep, ok := eps[epID]
		if !ok && epID == "" && (k == objRobot || k == objStation) {
			// a robot or station without a controller of its own: the
			// twin infers it from the machines' events
			a.order = append(a.order, id)
			a.status[id] = &MachineStatus{ID: id, Kind: kind, Unconnected: true}
			return nil
		}
		if !ok {
			if epID == "" {
				return mes.Errorf(mes.EINVALID, "acquisition: %s has no endpoint (bind the line configuration first)", id)
			}
			return mes.Errorf(mes.EINVALID, "acquisition: %s: unknown endpoint %q", id, epID)
		}
		if _, dup := a.byID[id]; dup {
			return mes.Errorf(mes.EINVALID, "acquisition: duplicate id %q", id)
		}
		if node == "" {
			node = id
		}
		obj := newObject(id, node, epID, k)
		ep.objects = append(ep.objects, obj)
		a.byID[id], a.epOf[id] = obj, ep
		a.order = append(a.order, id)
		a.status[id] = &MachineStatus{ID: id, Kind: kind, Endpoint: epID, URL: ep.cfg.URL, State: mes.StateOffline}
		return nil
	}
	for _, m := range o.Line.Machines {
		k := objGrinder
		if m.Kind == mes.KindInspection {
			k = objInspection
		}
		if err := add(m.ID, m.Node, m.Endpoint, m.Kind, k); err != nil {
			return nil, err
		}
		o := a.byID[m.ID]
		mp, err := machineMappings(a.line, m, o)
		if err != nil {
			return nil, err
		}
		o.mapped = mp
	}
	for _, r := range o.Line.Robots {
		if err := add(r.ID, "", r.Endpoint, "robot", objRobot); err != nil {
			return nil, err
		}
	}
	for _, s := range o.Line.Stations {
		if err := add(s.ID, "", s.Endpoint, s.Kind, objStation); err != nil {
			return nil, err
		}
	}
	if o.DataDir != "" {
		id, err := loadOrCreateIdentity(o.DataDir)
		if err != nil {
			return nil, mes.Errorf(mes.EINVALID, "acquisition: %v", err)
		}
		a.ident = id
		if needCert {
			a.log.Info("OPC UA client certificate: servers must trust it", "file", id.certPath,
				"server_trust_list", filepath.Join(filepath.Dir(id.certPath), trustedDir))
		}
	} else if needCert {
		return nil, mes.Errorf(mes.EINVALID, "acquisition: a secure endpoint needs a data directory for the client certificate")
	}
	return a, nil
}

// CertificateFile is the path of the client certificate (PEM), for servers
// that must be told to trust it; "" without a data directory.
func (a *Acquisition) CertificateFile() string {
	if a.ident == nil {
		return ""
	}
	return a.ident.certPath
}

// Run connects every endpoint concurrently and reads until ctx is done. An
// endpoint that is down never delays the others; each reconnects by itself.
func (a *Acquisition) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, ep := range a.eps {
		if len(ep.objects) == 0 {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ep.run(ctx)
		}()
	}
	wg.Wait()
	return nil
}

// Status returns the status of every machine, robot and station, in
// configuration order.
func (a *Acquisition) Status() []MachineStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]MachineStatus, 0, len(a.order))
	for _, id := range a.order {
		out = append(out, *a.status[id])
	}
	return out
}

func (a *Acquisition) setStatus(id string, f func(*MachineStatus)) {
	a.mu.Lock()
	f(a.status[id])
	a.mu.Unlock()
}

func (a *Acquisition) publish(ctx context.Context, ev []mes.MachineEvent) {
	if len(ev) == 0 {
		return
	}
	if err := a.sink.Publish(ctx, ev...); err != nil && ctx.Err() == nil {
		a.log.Error("publish machine events", "events", len(ev), "err", err)
	}
}

// backoff is exponential with jitter: each wait is drawn from [d/2, d) and d
// doubles up to max, so that many endpoints coming back do not reconnect in step.
type backoff struct {
	base, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.base
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur/2 + rand.N(b.cur/2+1)
}

func (b *backoff) reset() { b.cur = 0 }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return fmt.Sprint(err)
}

// newestClock is the clock of the endpoint read most recently, nil if none
// was read yet (see endpoint.machineTime).
func (a *Acquisition) newestClock() *machineClock {
	var best *machineClock
	var when time.Time
	for _, e := range a.eps {
		if t := e.clock.lastRead(); !t.IsZero() && t.After(when) {
			best, when = &e.clock, t
		}
	}
	return best
}
