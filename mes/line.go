package mes

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
)

// Machine kinds in a line configuration.
const (
	KindGrinder    = "grinder"
	KindInspection = "inspection"
	KindMagazine   = "magazine"
	KindOutput     = "output"
)

// Acquisition modes.
const (
	ModePoll      = "poll"
	ModeSubscribe = "subscribe"
)

// Simulator endpoint layouts.
const (
	LayoutPerMachine = "per_machine" // each grinder its own endpoint, plus one for the cell (robots, stations)
	LayoutGateway    = "gateway"     // one endpoint holds every machine
)

// LineConfig describes a pilot line: its machines and where they are, the
// products it makes, how it is read over OPC UA and, for the simulated line,
// how the simulator behaves. It is loaded from JSON (see fixtures/line.json).
type LineConfig struct {
	Name          string      `json:"name"`
	NameZH        string      `json:"name_zh,omitempty"`
	TaktS         float64     `json:"takt_s"`         // target takt, seconds per bur
	SerialPattern string      `json:"serial_pattern"` // e.g. "{batch}-{seq:05}"
	Acquisition   Acquisition `json:"acquisition"`
	Endpoints     []Endpoint  `json:"endpoints,omitempty"` // real machines; the simulator assigns its own
	Groups        []Group     `json:"groups"`
	Machines      []Machine   `json:"machines"`         // grinders and the inspection station
	Models        []Model     `json:"models,omitempty"` // node mappings shared by all machines of a model
	Robots        []Robot     `json:"robots"`
	Stations      []Station   `json:"stations"` // magazine and output tray
	Products      []Product   `json:"products"`
	Shifts        []Shift     `json:"shifts"`
	Carbon        Carbon      `json:"carbon"`
	Simulation    Simulation  `json:"simulation"`
	MQTT          *PlantBus   `json:"mqtt,omitempty"` // the plant bus (off unless a URL is given here or by --mqtt)
}

// Acquisition is how the MES reads the line over OPC UA.
type Acquisition struct {
	Mode              string `json:"mode"`                // "poll" or "subscribe"
	PollIntervalMS    int    `json:"poll_interval_ms"`    // default 500
	PublishIntervalMS int    `json:"publish_interval_ms"` // subscription publishing interval, default = poll interval
	SecurityPolicy    string `json:"security_policy"`     // "None" or "Basic256Sha256"
	SecurityMode      string `json:"security_mode"`       // "None", "Sign" or "SignAndEncrypt"
	Username          string `json:"username,omitempty"`
	PasswordEnv       string `json:"password_env,omitempty"` // name of the environment variable holding the password
	// TrustOnFirstUse adds a server certificate not yet in the trust list
	// (DATA/pki/trusted) to it; off, such a server is refused.
	TrustOnFirstUse bool `json:"trust_on_first_use,omitempty"`
}

// Endpoint is one OPC UA server of the line. Empty fields inherit from Acquisition.
type Endpoint struct {
	ID             string `json:"id"`
	URL            string `json:"url"` // opc.tcp://HOST:PORT[/PATH]
	Mode           string `json:"mode,omitempty"`
	SecurityPolicy string `json:"security_policy,omitempty"`
	SecurityMode   string `json:"security_mode,omitempty"`
	Username       string `json:"username,omitempty"`
	PasswordEnv    string `json:"password_env,omitempty"`
}

// Group is a set of machines that can perform the same operations.
type Group struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	NameZH string `json:"name_zh,omitempty"`
}

// Machine is a grinder or the inspection station.
type Machine struct {
	ID       string `json:"id"`                 // G01…G25, QC1
	Kind     string `json:"kind"`               // "grinder" or "inspection"
	Row      int    `json:"row"`                // 1-based position in the floor matrix
	Col      int    `json:"col"`                // 1-based
	Group    string `json:"group"`              // Group.ID
	Endpoint string `json:"endpoint,omitempty"` // Endpoint.ID (real machines)
	Node     string `json:"node,omitempty"`     // browse name of the machine object under Machines; default ID
	Model    string `json:"model,omitempty"`    // a Models entry's ID uses its map
	// Map maps acquisition signal keys to this machine's own nodes (see
	// Model.Map); it overrides its model's entries.
	Map map[string]string `json:"map,omitempty"`
}

// Model is a machine model: the node mapping every machine of the model
// shares, so a vendor's names are mapped once.
type Model struct {
	ID string `json:"id"`
	// Map maps acquisition signal keys (e.g. "program.state") to a browse
	// path from the machine object, each step PREFIX:Name (DI, MA, MT, PL),
	// {namespace-uri}Name or Name for namespace 0, joined by "/"; or to a
	// node id ("ns=3;s=…", "nsu=urn:…;i=…").
	Map map[string]string `json:"map"`
}

// Robot is a robot arm that loads and unloads the machines of one row.
type Robot struct {
	ID       string   `json:"id"` // R1…R5
	Row      int      `json:"row"`
	Serves   []string `json:"serves"` // machine and station ids
	Endpoint string   `json:"endpoint,omitempty"`
}

// Station is a passive station: the blank magazine or the output tray.
type Station struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"` // "magazine" or "output"
	Capacity int    `json:"capacity"`
	Endpoint string `json:"endpoint,omitempty"`
}

// Shift is one shift of the calendar: it starts every day at Start (local
// "HH:MM") and lasts DurationS seconds. Its Breaks are planned downtime at
// the times they start.
//
// BreakS is the total break length of configurations that did not say when
// the break is taken; it is accepted only alongside Breaks of the same total
// (or 0), since a break without a start time cannot be placed on the clock.
type Shift struct {
	Name      string  `json:"name"`
	Start     string  `json:"start"`
	DurationS float64 `json:"duration_s"`
	BreakS    float64 `json:"break_s,omitempty"`
	Breaks    []Break `json:"breaks,omitempty"`
}

// Break is a planned break within a shift: it starts at Start (local
// "HH:MM", inside the shift) and lasts DurationS seconds.
type Break struct {
	Start     string  `json:"start"`
	DurationS float64 `json:"duration_s"`
}

// BreakTotalS is the planned break time of one shift, in seconds.
func (s Shift) BreakTotalS() float64 {
	var t float64
	for _, b := range s.Breaks {
		t += b.DurationS
	}
	return t
}

// BreakOffsetS is the offset of b from the start of s, in seconds; a break
// after midnight of a shift that crosses it lies on the next day.
func (s Shift) BreakOffsetS(b Break) (float64, error) {
	sm, err := ParseClock(s.Start)
	if err != nil {
		return 0, err
	}
	bm, err := ParseClock(b.Start)
	if err != nil {
		return 0, err
	}
	return float64((bm-sm+1440)%1440) * 60, nil
}

// Carbon holds the emission factors used for carbon per bur.
type Carbon struct {
	GridKgPerKWh      float64 `json:"grid_kg_per_kwh"`      // kg CO2e per kWh from the grid
	RenewableKgPerKWh float64 `json:"renewable_kg_per_kwh"` // kg CO2e per kWh of the park's own wind/solar
	RenewableShare    float64 `json:"renewable_share"`      // 0..1 of consumption covered by the park's renewables
}

// KgPerKWh is the blended emission factor.
func (c Carbon) KgPerKWh() float64 {
	return c.RenewableShare*c.RenewableKgPerKWh + (1-c.RenewableShare)*c.GridKgPerKWh
}

// Simulation configures the simulated line (opcua/sim).
type Simulation struct {
	Layout           string  `json:"layout"`             // "per_machine" (default) or "gateway"
	Host             string  `json:"host"`               // default 127.0.0.1
	LoadS            float64 `json:"load_s"`             // robot load time, seconds
	UnloadS          float64 `json:"unload_s"`           // robot unload time
	RobotMoveS       float64 `json:"robot_move_s"`       // robot travel between two positions
	DressEvery       int     `json:"dress_every"`        // dress the wheel every N parts
	DressS           float64 `json:"dress_s"`            // dressing time
	WheelChangeEvery int     `json:"wheel_change_every"` // change the wheel every N dressings
	WheelChangeS     float64 `json:"wheel_change_s"`
	MTBFS            float64 `json:"mtbf_s"` // mean time between faults per machine, seconds of operation
	MTTRS            float64 `json:"mttr_s"` // mean time to repair
	RejectRate       float64 `json:"reject_rate"`
	CycleJitter      float64 `json:"cycle_jitter"` // relative spread of cycle times, e.g. 0.03
}

// LoadLineConfigFile reads and validates a line configuration from a JSON file.
func LoadLineConfigFile(path string) (*LineConfig, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, Errorf(EINVALID, "line config: %v", err)
	}
	defer f.Close()
	return LoadLineConfig(f)
}

// LoadLineConfig reads and validates a line configuration from JSON.
// Unknown fields are rejected. Errors are EINVALID and name the field.
func LoadLineConfig(r io.Reader) (*LineConfig, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, Errorf(EINVALID, "line config: %v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c LineConfig
	if err := dec.Decode(&c); err != nil {
		return nil, Errorf(EINVALID, "line config: %s", describeJSONError(data, err))
	}
	c.applyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func describeJSONError(data []byte, err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		line := bytes.Count(data[:min(int(syn.Offset), len(data))], []byte("\n")) + 1
		return fmt.Sprintf("syntax error at line %d: %v", line, syn)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q: want %s, got JSON %s", typ.Field, typ.Type, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ")
	}
	return err.Error()
}

func (c *LineConfig) applyDefaults() {
	if c.TaktS == 0 {
		c.TaktS = 180
	}
	if c.SerialPattern == "" {
		c.SerialPattern = "{batch}-{seq:05}"
	}
	a := &c.Acquisition
	if a.Mode == "" {
		a.Mode = ModePoll
	}
	if a.PollIntervalMS == 0 {
		a.PollIntervalMS = 500
	}
	if a.PublishIntervalMS == 0 {
		a.PublishIntervalMS = a.PollIntervalMS
	}
	if a.SecurityPolicy == "" {
		a.SecurityPolicy = "None"
	}
	if a.SecurityMode == "" {
		a.SecurityMode = "None"
	}
	s := &c.Simulation
	if s.Layout == "" {
		s.Layout = LayoutPerMachine
	}
	if s.Host == "" {
		s.Host = "127.0.0.1"
	}
}

// Validate checks the configuration and returns an EINVALID error naming the
// first offending field.
func (c *LineConfig) Validate() error {
	bad := func(field, format string, args ...any) error {
		return Errorf(EINVALID, "line config: %s: %s", field, fmt.Sprintf(format, args...))
	}
	if c.Name == "" {
		return bad("name", "required")
	}
	if c.TaktS <= 0 {
		return bad("takt_s", "must be > 0, got %v", c.TaktS)
	}
	if !strings.Contains(c.SerialPattern, "{seq") {
		return bad("serial_pattern", "must contain {seq} or {seq:0N}, got %q", c.SerialPattern)
	}
	a := c.Acquisition
	if a.Mode != ModePoll && a.Mode != ModeSubscribe {
		return bad("acquisition.mode", "must be %q or %q, got %q", ModePoll, ModeSubscribe, a.Mode)
	}
	if a.PollIntervalMS < 10 || a.PollIntervalMS > 600000 {
		return bad("acquisition.poll_interval_ms", "must be 10..600000, got %d", a.PollIntervalMS)
	}
	if a.PublishIntervalMS < 10 || a.PublishIntervalMS > 600000 {
		return bad("acquisition.publish_interval_ms", "must be 10..600000, got %d", a.PublishIntervalMS)
	}
	if err := validSecurity("acquisition", a.SecurityPolicy, a.SecurityMode); err != nil {
		return err
	}
	ids := map[string]string{} // every machine, robot, station and endpoint id → its field
	claim := func(field, id string) error {
		if id == "" {
			return bad(field+".id", "required")
		}
		// Ids reach URLs, the twin's page and file names: one rule for all of them.
		if ValidID(field+".id", id) != nil {
			return bad(field+".id", "%q is not a valid id (at most %d letters, digits, '.', '_', '-')", id, MaxIDLen)
		}
		if prev, ok := ids[id]; ok {
			return bad(field+".id", "duplicate id %q (also %s)", id, prev)
		}
		ids[id] = field
		return nil
	}
	endpoints := map[string]bool{}
	for i, e := range c.Endpoints {
		f := fmt.Sprintf("endpoints[%d]", i)
		if err := claim(f, e.ID); err != nil {
			return err
		}
		endpoints[e.ID] = true
		if err := ValidEndpointURL(e.URL); err != nil {
			return bad(f+".url", "%v", err)
		}
		if e.Mode != "" && e.Mode != ModePoll && e.Mode != ModeSubscribe {
			return bad(f+".mode", "must be %q or %q, got %q", ModePoll, ModeSubscribe, e.Mode)
		}
		if e.SecurityPolicy != "" || e.SecurityMode != "" {
			p, m := e.SecurityPolicy, e.SecurityMode
			if p == "" {
				p = a.SecurityPolicy
			}
			if m == "" {
				m = a.SecurityMode
			}
			if err := validSecurity(f, p, m); err != nil {
				return err
			}
		}
	}
	groups := map[string]bool{}
	for i, g := range c.Groups {
		f := fmt.Sprintf("groups[%d]", i)
		if g.ID == "" {
			return bad(f+".id", "required")
		}
		if groups[g.ID] {
			return bad(f+".id", "duplicate group %q", g.ID)
		}
		groups[g.ID] = true
	}
	models := map[string]bool{}
	for i, md := range c.Models {
		f := fmt.Sprintf("models[%d]", i)
		if md.ID == "" {
			return bad(f+".id", "required")
		}
		if models[md.ID] {
			return bad(f+".id", "duplicate model %q", md.ID)
		}
		models[md.ID] = true
		if err := validMap(f+".map", md.Map); err != nil {
			return err
		}
	}
	used := map[string]bool{}
	cells := map[[2]int]string{}
	for i, m := range c.Machines {
		f := fmt.Sprintf("machines[%d]", i)
		if err := claim(f, m.ID); err != nil {
			return err
		}
		if m.Kind != KindGrinder && m.Kind != KindInspection {
			return bad(f+".kind", "must be %q or %q, got %q", KindGrinder, KindInspection, m.Kind)
		}
		if !groups[m.Group] {
			return bad(f+".group", "unknown group %q", m.Group)
		}
		used[m.Group] = true
		if m.Kind == KindGrinder {
			if m.Row < 1 || m.Col < 1 {
				return bad(f+".row", "grinder %s needs row and col ≥ 1", m.ID)
			}
			if prev, ok := cells[[2]int{m.Row, m.Col}]; ok {
				return bad(f+".row", "grinder %s and %s share row %d col %d", m.ID, prev, m.Row, m.Col)
			}
			cells[[2]int{m.Row, m.Col}] = m.ID
		}
		if m.Endpoint != "" && !endpoints[m.Endpoint] {
			return bad(f+".endpoint", "unknown endpoint %q", m.Endpoint)
		}
		if err := validMap(f+".map", m.Map); err != nil {
			return err
		}
		if len(c.Endpoints) > 0 && m.Endpoint == "" {
			return bad(f+".endpoint", "required when endpoints are listed")
		}
	}
	if len(c.Machines) == 0 {
		return bad("machines", "at least one machine is required")
	}
	for i, r := range c.Robots {
		f := fmt.Sprintf("robots[%d]", i)
		if err := claim(f, r.ID); err != nil {
			return err
		}
		if r.Endpoint != "" && !endpoints[r.Endpoint] {
			return bad(f+".endpoint", "unknown endpoint %q", r.Endpoint)
		}
	}
	for i, s := range c.Stations {
		f := fmt.Sprintf("stations[%d]", i)
		if err := claim(f, s.ID); err != nil {
			return err
		}
		if s.Kind != KindMagazine && s.Kind != KindOutput {
			return bad(f+".kind", "must be %q or %q, got %q", KindMagazine, KindOutput, s.Kind)
		}
		if s.Endpoint != "" && !endpoints[s.Endpoint] {
			return bad(f+".endpoint", "unknown endpoint %q", s.Endpoint)
		}
	}
	for i, r := range c.Robots {
		for j, s := range r.Serves {
			if _, ok := ids[s]; !ok {
				return bad(fmt.Sprintf("robots[%d].serves[%d]", i, j), "unknown machine or station %q", s)
			}
		}
	}
	if len(c.Products) == 0 {
		return bad("products", "at least one product with a route is required")
	}
	isos := map[string]bool{}
	for i, p := range c.Products {
		f := fmt.Sprintf("products[%d]", i)
		if isos[p.ISO] {
			return bad(f+".iso", "duplicate product %q", p.ISO)
		}
		isos[p.ISO] = true
		if err := p.Validate(); err != nil {
			return bad(f, "%s", ErrorMessage(err))
		}
		for j, op := range p.Route {
			if !used[op.Group] {
				return bad(fmt.Sprintf("%s.route[%d].group", f, j), "no machine in group %q", op.Group)
			}
		}
	}
	for i, s := range c.Shifts {
		f := fmt.Sprintf("shifts[%d]", i)
		if _, err := ParseClock(s.Start); err != nil {
			return bad(f+".start", "%v", err)
		}
		if s.DurationS <= 0 || s.DurationS > 86400 {
			return bad(f+".duration_s", "must be in (0, 86400], got %v", s.DurationS)
		}
		if err := s.validateBreaks(f); err != nil {
			return err
		}
	}
	cb := c.Carbon
	if cb.GridKgPerKWh < 0 || cb.RenewableKgPerKWh < 0 || cb.RenewableShare < 0 || cb.RenewableShare > 1 {
		return bad("carbon", "factors must be ≥ 0 and renewable_share in [0, 1]")
	}
	s := c.Simulation
	if s.Layout != LayoutPerMachine && s.Layout != LayoutGateway {
		return bad("simulation.layout", "must be %q or %q, got %q", LayoutPerMachine, LayoutGateway, s.Layout)
	}
	if s.RejectRate < 0 || s.RejectRate > 1 {
		return bad("simulation.reject_rate", "must be in [0, 1], got %v", s.RejectRate)
	}
	for _, v := range []struct {
		name string
		v    float64
	}{{"load_s", s.LoadS}, {"unload_s", s.UnloadS}, {"robot_move_s", s.RobotMoveS}, {"dress_s", s.DressS},
		{"wheel_change_s", s.WheelChangeS}, {"mtbf_s", s.MTBFS}, {"mttr_s", s.MTTRS}, {"cycle_jitter", s.CycleJitter}} {
		if v.v < 0 {
			return bad("simulation."+v.name, "must be ≥ 0, got %v", v.v)
		}
	}
	if s.DressEvery < 0 || s.WheelChangeEvery < 0 {
		return bad("simulation.dress_every", "must be ≥ 0")
	}
	return nil
}

func validSecurity(field, policy, mode string) error {
	switch policy {
	case "None", "Basic256Sha256":
	default:
		return Errorf(EINVALID, "line config: %s.security_policy: must be \"None\" or \"Basic256Sha256\", got %q", field, policy)
	}
	switch mode {
	case "None", "Sign", "SignAndEncrypt":
	default:
		return Errorf(EINVALID, "line config: %s.security_mode: must be \"None\", \"Sign\" or \"SignAndEncrypt\", got %q", field, mode)
	}
	if (policy == "None") != (mode == "None") {
		return Errorf(EINVALID, "line config: %s.security_mode: %q does not go with security_policy %q", field, mode, policy)
	}
	return nil
}

// ValidEndpointURL checks that u is opc.tcp://HOST:PORT[/PATH].
func ValidEndpointURL(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return fmt.Errorf("bad endpoint URL %q: %v", u, err)
	}
	if p.Scheme != "opc.tcp" {
		return fmt.Errorf("bad endpoint URL %q: scheme must be opc.tcp", u)
	}
	host, port, err := net.SplitHostPort(p.Host)
	if err != nil || host == "" {
		return fmt.Errorf("bad endpoint URL %q: want opc.tcp://HOST:PORT", u)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("bad endpoint URL %q: port must be 1..65535", u)
	}
	return nil
}

// ParseClock parses "HH:MM" into minutes after midnight.
func ParseClock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59 {
		return 0, fmt.Errorf("want HH:MM, got %q", s)
	}
	return hh*60 + mm, nil
}

// validateBreaks checks that the breaks lie inside the shift, in order and
// without overlap, and that a legacy break_s agrees with them.
func (s Shift) validateBreaks(f string) error {
	bad := func(field, format string, args ...any) error {
		return Errorf(EINVALID, "line config: %s: %s", field, fmt.Sprintf(format, args...))
	}
	total := s.BreakTotalS()
	switch {
	case s.BreakS < 0:
		return bad(f+".break_s", "must be ≥ 0, got %v", s.BreakS)
	case s.BreakS > 0 && len(s.Breaks) == 0:
		return bad(f+".break_s", "a break needs a start time: give breaks[] with start and duration_s")
	case s.BreakS > 0 && s.BreakS != total:
		return bad(f+".break_s", "%v disagrees with the breaks, which total %v", s.BreakS, total)
	case total >= s.DurationS:
		return bad(f+".breaks", "total %v s must be shorter than the shift (%v s)", total, s.DurationS)
	}
	end := -1.0
	for j, b := range s.Breaks {
		bf := fmt.Sprintf("%s.breaks[%d]", f, j)
		off, err := s.BreakOffsetS(b)
		if err != nil {
			return bad(bf+".start", "%v", err)
		}
		switch {
		case b.DurationS <= 0:
			return bad(bf+".duration_s", "must be > 0, got %v", b.DurationS)
		case off+b.DurationS > s.DurationS:
			return bad(bf, "%s + %v s ends after the shift", b.Start, b.DurationS)
		case off < end:
			return bad(bf, "starts before the previous break ends (breaks in time order, no overlap)")
		}
		end = off + b.DurationS
	}
	return nil
}

// Machine returns the machine with the given id.
func (c *LineConfig) Machine(id string) (Machine, bool) {
	for _, m := range c.Machines {
		if m.ID == id {
			return m, true
		}
	}
	return Machine{}, false
}

// Product returns the product with the given ISO 6360 number.
func (c *LineConfig) Product(iso string) (Product, bool) {
	for _, p := range c.Products {
		if p.ISO == iso {
			return p, true
		}
	}
	return Product{}, false
}

// GroupMachines returns the ids of the machines in group, in configuration order.
func (c *LineConfig) GroupMachines(group string) []string {
	var ids []string
	for _, m := range c.Machines {
		if m.Group == group {
			ids = append(ids, m.ID)
		}
	}
	return ids
}

// validMap checks that a node mapping names each key and target. Whether a
// key is a known signal is checked by acquisition, which owns the keys.
func validMap(field string, m map[string]string) error {
	for k, v := range m {
		if strings.TrimSpace(k) == "" {
			return Errorf(EINVALID, "line config: %s: empty signal key", field)
		}
		if strings.TrimSpace(v) == "" {
			return Errorf(EINVALID, "line config: %s.%s: empty browse path or node id", field, k)
		}
	}
	return nil
}

// ModelByID returns the configured model id, nil if there is none.
func (c *LineConfig) ModelByID(id string) *Model {
	for i := range c.Models {
		if c.Models[i].ID == id {
			return &c.Models[i]
		}
	}
	return nil
}
