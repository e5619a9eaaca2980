package opcua

import (
	"slices"
	"strconv"
	"strings"
)

// Capabilities are what Pilotline derives from a machine. Each is available
// when every node of one of its alternatives resolves (see capabilityNodes);
// a machine serving standard umati only has state, mode, program, counter,
// cycles and alarms, and lacks genealogy, dispatch, process values and
// measurements, which only Pilotline's namespace provides.
const (
	CapState         = "state"          // running, idle, alarm: OEE availability
	CapMode          = "mode"           // umati operation mode
	CapProgram       = "program"        // the active NC program
	CapCounter       = "counter"        // parts counter
	CapCycles        = "cycles"         // one event per finished job, with its times: cycle time, OEE performance
	CapAlarms        = "alarms"         // raised and cleared
	CapGenealogy     = "genealogy"      // which bur each cycle made (bur serial per cycle)
	CapDispatch      = "dispatch"       // the MES can give the machine its next job
	CapProcessValues = "process_values" // spindle load, power, energy, wheel wear, axes
	CapMeasurements  = "measurements"   // inspection results (inspection station)
)

// eventsKey stands for the Notification/Messages event notifier among the
// signal keys of capabilityNodes.
const eventsKey = "events:Notification/Messages"

// capabilityNodes lists, per capability, the alternatives that provide it:
// every key of one alternative must resolve. README's capability table is
// this one.
var capabilityNodes = []struct {
	cap        string
	anyOf      [][]string
	inspection bool // only an inspection station has it
}{
	{CapState, [][]string{{KeyState}, {KeyProgramState}}, false},
	{CapMode, [][]string{{KeyOperationMode}}, false},
	{CapProgram, [][]string{{KeyProgramName}}, false},
	{CapCounter, [][]string{{KeyParts}, {KeyPartsLifetime}}, false},
	{CapCycles, [][]string{{"cycle.Seq", "cycle.End"}, {JobKey(0, "runs_completed")}, {JobKey(1, "runs_completed")}, {JobKey(2, "runs_completed")}}, false},
	{CapAlarms, [][]string{{KeyAlarmLatest, "alarm.0.Seq"}, {eventsKey}}, false},
	{CapGenealogy, [][]string{{"cycle.Seq", "cycle.Serial"}}, false},
	{CapDispatch, [][]string{{KeyDispatchSerial, KeyDispatchProg, KeyDispatchSeq, KeyDispatchAcc}}, false},
	{CapProcessValues, [][]string{{KeySpindleLoad}}, false},
	{CapMeasurements, [][]string{{"measure.Seq", "measure.Serial"}}, true},
}

// MachineCapabilities returns what a machine with the given resolved
// signal keys (plus eventsKey when its Messages notifier resolved) provides
// and lacks, each in the order of the capability table.
func MachineCapabilities(resolved func(key string) bool, inspection bool) (has, lacks []string) {
	for _, c := range capabilityNodes {
		if c.inspection && !inspection {
			continue
		}
		ok := slices.ContainsFunc(c.anyOf, func(alt []string) bool {
			return !slices.ContainsFunc(alt, func(k string) bool { return !resolved(k) })
		})
		if ok {
			has = append(has, c.cap)
		} else {
			lacks = append(lacks, c.cap)
		}
	}
	return has, lacks
}

// CapabilityTable renders the capability table (capability, then the
// alternatives of nodes, each as browse paths from the machine object).
func CapabilityTable() [][2]string {
	paths := map[string]string{eventsKey: "MT:Notification/MT:Messages (event notifier)"}
	for _, insp := range []bool{false, true} {
		for _, sg := range MachineSignals(insp) {
			paths[sg.Key] = PathString(sg.Path)
		}
	}
	var rows [][2]string
	for _, c := range capabilityNodes {
		var alts []string
		for _, alt := range c.anyOf {
			var ps []string
			for _, k := range alt {
				ps = append(ps, "`"+paths[k]+"`")
			}
			if a := strings.Join(ps, " + "); !slices.Contains(alts, a) {
				alts = append(alts, a) // the job slots render alike
			}
		}
		rows = append(rows, [2]string{c.cap, strings.Join(alts, " **or** ")})
	}
	return rows
}

// PathString renders a browse path with namespace prefixes (DI, MA, MT, PL,
// {uri} for others, none for namespace 0), the syntax ParseBrowsePath
// reads; an instance step shows its type: <ChannelMonitoringType>.
func PathString(p []QName) string {
	var b strings.Builder
	for i, q := range p {
		if i > 0 {
			b.WriteByte('/')
		}
		if q.Type != 0 {
			b.WriteString("<" + typeName(q.Type) + ">") // any browse name, any namespace
			continue
		}
		b.WriteString(nsPrefix(q.NS))
		b.WriteString(q.Name)
	}
	return b.String()
}

func nsPrefix(uri string) string {
	switch uri {
	case NsDI:
		return "DI:"
	case NsMA:
		return "MA:"
	case NsMT:
		return "MT:"
	case NsPL:
		return "PL:"
	case "", NsUA:
		return ""
	}
	return "{" + uri + "}"
}

func typeName(t uint32) string {
	switch t {
	case ChannelMonitoringTypeID:
		return "ChannelMonitoringType"
	case SpindleMonitoringTypeID:
		return "SpindleMonitoringType"
	case ProductionJobTypeID:
		return "ProductionJobType"
	case BaseToolTypeID:
		return "BaseToolType"
	case MachineToolTypeID:
		return "MachineToolType"
	}
	return "MT type i=" + strconv.FormatUint(uint64(t), 10)
}

// mandatoryKeys are the nodes OPC 40501-1 makes mandatory that Pilotline
// reads on every machine; a machine without them is logged once per
// connection change, one line each. Mapped keys are mandatory too.
var mandatoryKeys = []string{KeyOperationMode, KeyProgramName, KeyProgramState}

// reportCapabilities records what each found machine provides in its
// status and logs, once per change, what it lacks.
func (e *endpoint) reportCapabilities(s *session) {
	for _, o := range s.found {
		if !o.isMachine() {
			continue
		}
		ids := s.ids[o]
		resolved := func(k string) bool {
			if k == eventsKey {
				return s.messages[o] != nil
			}
			i, ok := o.idx[k]
			return ok && i < len(ids) && ids[i] != nil
		}
		var missing []string
		for _, k := range mandatoryKeys {
			if !resolved(k) {
				missing = append(missing, k)
			}
		}
		for i := range o.mapped {
			if k := o.signals[i].Key; !resolved(k) && !slices.Contains(missing, k) {
				missing = append(missing, k)
			}
		}
		slices.Sort(missing)
		if k := strings.Join(missing, ","); k != o.missLogged {
			o.missLogged = k
			for _, key := range missing {
				where := PathString(s.paths[o][o.idx[key]])
				if mp, ok := o.mapped[o.idx[key]]; ok {
					where = mp.text + " (mapped)"
				}
				e.log.Error("mandatory node not found: map it in machines[].map or models[].map",
					"machine", o.id, "key", key, "path", where)
			}
		}
		has, lacks := MachineCapabilities(resolved, o.kind == objInspection)
		e.a.setStatus(o.id, func(st *MachineStatus) { st.Capabilities, st.Lacks = has, lacks })
		if k := strings.Join(lacks, ","); k != o.lacksLogged {
			o.lacksLogged = k
			if len(lacks) > 0 {
				e.log.Warn("machine lacks capabilities: the nodes they need did not resolve (see README, capability table)",
					"machine", o.id, "has", strings.Join(has, ","), "lacks", k)
			}
		}
	}
}
