package opcua

// The information model every Pilotline machine exposes, shared by the
// acquisition client and the simulated line (opcua/sim). Nodes are always
// found by browse path from the machine object, never by numeric node id.
//
// Address space of one endpoint:
//
//	Objects
//	├── MA:Machines                      (ns=Machinery;i=1001, FolderType)
//	│   ├── PL:G01  <MT:MachineToolType> one object per grinder
//	│   │   ├── DI:Identification        Manufacturer, SerialNumber, ProductInstanceUri, Model
//	│   │   ├── MT:Monitoring            MachineTool/OperationMode, Channel1, Spindle1
//	│   │   ├── MT:Production            ActiveProgram, ProductionPlan/PL:CurrentJob
//	│   │   ├── MT:Equipment             Tools/PL:Wheel1
//	│   │   ├── MT:Notification          Messages
//	│   │   └── PL:Process, PL:LastCycle, PL:Alarms, PL:Dispatch (Pilotline namespace)
//	│   └── PL:QC1  the inspection station, same tree plus PL:LastMeasurement
//	└── PL:Cell                          robots and passive stations (cell endpoint or gateway)
//	    ├── PL:R1 … PL:R5                State, At, Target, Bur
//	    └── PL:MAG, PL:OUT               Count, LastSerial
//
// Dispatch protocol: the MES writes PL:Dispatch/Serial, Program and
// ProgramVersion, then Seq (one greater than Accepted), all in one Write
// request. The machine accepts the job only when it is idle with no job
// pending; otherwise the Seq write answers BadInvalidState and nothing runs.
// Accepted then equals Seq. When the job ends, PL:LastCycle holds its record
// and PL:Process/PL:PartsCounter equals LastCycle/Seq.

// Namespace URIs.
const (
	NsUA = "http://opcfoundation.org/UA/"
	NsDI = "http://opcfoundation.org/UA/DI/"
	NsMA = "http://opcfoundation.org/UA/Machinery/"
	NsMT = "http://opcfoundation.org/UA/MachineTool/"
	NsPL = "urn:pilotline:ua:line" // Pilotline's own namespace for what the companion specs lack
)

// Well-known ids in the companion-spec namespaces.
const (
	MachinesFolderID  = 1001 // MA:Machines, numeric id in NsMA
	MachineToolTypeID = 13   // MT:MachineToolType, numeric id in NsMT

	// Instance types of OPC 40501-1 (numeric ids in NsMT).
	ChannelMonitoringTypeID = 16
	SpindleMonitoringTypeID = 22
	ProductionJobTypeID     = 29
	BaseToolTypeID          = 49
	MessagesTypeID          = 38
)

// QName is a browse name: a namespace URI ("" or NsUA for namespace 0) and
// a name.
//
// A step with Type set stands for an instance a vendor names as it likes
// (Channel1, Spindle1, Job1, Tool1 in the vendor's namespace): it matches
// the Index-th child (in browse order) whose type definition is the MT type
// Type or a subtype of it; only when no child has such a type does Name
// (Pilotline's own name for it) match.
type QName struct {
	NS    string
	Name  string
	Type  uint32 // numeric id in NsMT of the instance's type; 0 for a plain browse name
	Index int    // which instance of Type, 0 the first
}

// Value types used by the model (OPC UA built-in type names).
const (
	TString        = "String"
	TDouble        = "Double"
	TInt32         = "Int32"
	TUInt32        = "UInt32"
	TUInt16        = "UInt16"
	TBoolean       = "Boolean"
	TDateTime      = "DateTime"
	TLocalizedText = "LocalizedText"
)

// Signal is one variable of a machine: a key the code uses, the browse path
// from the machine object, its type, and whether the MES writes it.
type Signal struct {
	Key      string
	Path     []QName
	Type     string
	Writable bool
}

func di(n string) QName  { return QName{NS: NsDI, Name: n} }
func mt(n string) QName  { return QName{NS: NsMT, Name: n} }
func pl(n string) QName  { return QName{NS: NsPL, Name: n} }
func std(n string) QName { return QName{NS: "", Name: n} } // namespace 0, the OPC UA base namespace

// instance is a vendor-named instance of the MT type typ (see QName.Type).
func instance(typ uint32, index int, fallback QName) QName {
	fallback.Type, fallback.Index = typ, index
	return fallback
}

func sig(key, typ string, path ...QName) Signal { return Signal{Key: key, Path: path, Type: typ} }

func wsig(key, typ string, path ...QName) Signal {
	return Signal{Key: key, Path: path, Type: typ, Writable: true}
}

// Signal keys.
const (
	KeyManufacturer   = "ident.manufacturer"
	KeySerialNumber   = "ident.serial_number"
	KeyInstanceURI    = "ident.instance_uri"
	KeyModel          = "ident.model"
	KeyOperationMode  = "mode"
	KeyChannelState   = "channel.state"
	KeyFeedOverride   = "channel.feed_override"
	KeyIsRotating     = "spindle.rotating"
	KeySpindleOvr     = "spindle.override"
	KeyProgramName    = "program.name"
	KeyProgramState   = "program.state"
	KeyJobID          = "job.id" // the first job of the production plan; job.N.* the others
	KeyRunsPlanned    = "job.runs_planned"
	KeyRunsCompleted  = "job.runs_completed"
	KeyJobState       = "job.state"
	KeyProgramNumber  = "program.number"
	KeyPartsLifetime  = "parts.lifetime"
	KeyWheelID        = "wheel.id"
	KeyWheelCtrlID    = "wheel.control_id"
	KeyWheelLocked    = "wheel.locked"
	KeyState          = "state"
	KeySerial         = "serial"
	KeyProgress       = "progress"
	KeySpindleSpeed   = "spindle.speed"
	KeySpindleLoad    = "spindle.load"
	KeyCoolantTemp    = "coolant"
	KeyPower          = "power"
	KeyEnergy         = "energy"
	KeyParts          = "parts"
	KeyProgramVersion = "program.version"
	KeyProgramHash    = "program.hash"
	KeyWheelDiameter  = "wheel.diameter"
	KeyWheelWear      = "wheel.wear"
	KeyDressCount     = "wheel.dress_count"
	KeyAlarmLatest    = "alarms.latest"
	KeyDispatchSerial = "dispatch.serial"
	KeyDispatchProg   = "dispatch.program"
	KeyDispatchVer    = "dispatch.program_version"
	KeyDispatchSeq    = "dispatch.seq"
	KeyDispatchAcc    = "dispatch.accepted"
)

// JobSlots is how many jobs of a machine's production plan are followed:
// a cycle is one more RunsCompleted of any of them.
const JobSlots = 3

// JobKey is the signal key of field (id, runs_planned, runs_completed,
// state) of job slot k: "job.<field>" for the first, "job.<k>.<field>" for
// the others.
func JobKey(k int, field string) string {
	if k == 0 {
		return "job." + field
	}
	return "job." + string(rune('0'+k)) + "." + field
}

// AxisNames are the six axes of a five-linkage tool grinder: X Y Z in mm, A B C in degrees.
var AxisNames = []string{"X", "Y", "Z", "A", "B", "C"}

// AlarmSlots is how many recent alarms a machine keeps in PL:Alarms (a ring
// indexed by Seq % AlarmSlots), so that an alarm raised and cleared between
// two polls is still seen.
const AlarmSlots = 8

// CycleFields are the children of PL:LastCycle, with their types.
var CycleFields = []Signal{
	sig("Seq", TUInt32), sig("Serial", TString), sig("Program", TString), sig("ProgramVersion", TString),
	sig("ProgramHash", TString), sig("WheelId", TString), sig("WheelWear", TDouble), sig("DressCount", TUInt32),
	sig("Start", TDateTime), sig("End", TDateTime), sig("PeakLoad", TDouble), sig("Energy", TDouble),
	sig("Aborted", TBoolean),
}

// AlarmFields are the children of each PL:Alarms/PL:AlarmN slot.
var AlarmFields = []Signal{
	sig("Seq", TUInt32), sig("Code", TString), sig("Text", TString), sig("TextZH", TString),
	sig("Severity", TUInt16), sig("Raised", TDateTime), sig("Cleared", TDateTime),
}

// MeasurementFields are the children of PL:LastMeasurement on the inspection station.
// Characteristic values are in mm and named as in mes.Characteristics, in CamelCase.
var MeasurementFields = []Signal{
	sig("Seq", TUInt32), sig("Serial", TString), sig("GaugeId", TString), sig("CalibrationDue", TDateTime),
	sig("Time", TDateTime), sig("HeadDiameter", TDouble), sig("WorkingLength", TDouble),
	sig("OverallLength", TDouble), sig("ShankDiameter", TDouble), sig("RadialRunout", TDouble),
}

// RobotFields are the children of PL:Cell/PL:Rn.
var RobotFields = []Signal{sig("State", TString), sig("At", TString), sig("Target", TString), sig("Bur", TString)}

// StationFields are the children of PL:Cell/PL:MAG and PL:Cell/PL:OUT.
var StationFields = []Signal{sig("Count", TUInt32), sig("LastSerial", TString)}

// MachineSignals returns every variable of a grinder or the inspection
// station (inspection adds PL:LastMeasurement), relative to the machine object.
func MachineSignals(inspection bool) []Signal {
	channel := instance(ChannelMonitoringTypeID, 0, pl("Channel1"))
	spindle := instance(SpindleMonitoringTypeID, 0, pl("Spindle1"))
	tool := instance(BaseToolTypeID, 0, pl("Wheel1"))
	s := []Signal{
		sig(KeyManufacturer, TLocalizedText, di("Identification"), di("Manufacturer")),
		sig(KeySerialNumber, TString, di("Identification"), di("SerialNumber")),
		sig(KeyInstanceURI, TString, di("Identification"), di("ProductInstanceUri")),
		sig(KeyModel, TLocalizedText, di("Identification"), di("Model")),
		sig(KeyOperationMode, TInt32, mt("Monitoring"), mt("MachineTool"), mt("OperationMode")),
		sig(KeyChannelState, TInt32, mt("Monitoring"), channel, mt("ChannelState")),
		sig(KeyFeedOverride, TDouble, mt("Monitoring"), channel, mt("FeedOverride")),
		sig(KeyIsRotating, TBoolean, mt("Monitoring"), spindle, mt("IsRotating")),
		sig(KeySpindleOvr, TDouble, mt("Monitoring"), spindle, mt("Override")),
		sig(KeyProgramName, TString, mt("Production"), mt("ActiveProgram"), mt("Name")),
		sig(KeyProgramNumber, TUInt16, mt("Production"), mt("ActiveProgram"), std("NumberInList")),
		sig(KeyProgramState, TLocalizedText, mt("Production"), mt("ActiveProgram"), mt("State"), std("CurrentState")),
		sig(KeyPartsLifetime, TUInt32, mt("Production"), mt("Statistics"), mt("PartsProducedInLifetime")),
		sig(KeyWheelID, TString, mt("Equipment"), mt("Tools"), tool, mt("Identifier")),
		sig(KeyWheelCtrlID, TUInt32, mt("Equipment"), mt("Tools"), tool, mt("ControlIdentifier1")),
		sig(KeyWheelLocked, TBoolean, mt("Equipment"), mt("Tools"), tool, mt("Locked")),
		sig(KeyState, TString, pl("Process"), pl("State")),
		sig(KeySerial, TString, pl("Process"), pl("CurrentSerial")),
		sig(KeyProgress, TDouble, pl("Process"), pl("CycleProgress")),
		sig(KeySpindleSpeed, TDouble, pl("Process"), pl("SpindleSpeed")),
		sig(KeySpindleLoad, TDouble, pl("Process"), pl("SpindleLoad")),
		sig(KeyCoolantTemp, TDouble, pl("Process"), pl("CoolantTemperature")),
		sig(KeyPower, TDouble, pl("Process"), pl("Power")),
		sig(KeyEnergy, TDouble, pl("Process"), pl("EnergyCounter")),
		sig(KeyParts, TUInt32, pl("Process"), pl("PartsCounter")),
		sig(KeyProgramVersion, TString, pl("Process"), pl("ProgramVersion")),
		sig(KeyProgramHash, TString, pl("Process"), pl("ProgramHash")),
		sig(KeyWheelDiameter, TDouble, pl("Process"), pl("WheelDiameter")),
		sig(KeyWheelWear, TDouble, pl("Process"), pl("WheelWear")),
		sig(KeyDressCount, TUInt32, pl("Process"), pl("DressCount")),
	}
	for k := range JobSlots {
		name := "CurrentJob"
		if k > 0 {
			name = "Job" + string(rune('1'+k))
		}
		job := instance(ProductionJobTypeID, k, pl(name))
		plan := []QName{mt("Production"), mt("ProductionPlan"), job}
		s = append(s,
			sig(JobKey(k, "id"), TString, append(plan, mt("Identifier"))...),
			sig(JobKey(k, "runs_planned"), TUInt32, append(plan, mt("RunsPlanned"))...),
			sig(JobKey(k, "runs_completed"), TUInt32, append(plan, mt("RunsCompleted"))...),
			sig(JobKey(k, "state"), TLocalizedText, append(plan, mt("State"), std("CurrentState"))...),
		)
	}
	for _, a := range AxisNames {
		s = append(s, sig("axis."+a, TDouble, pl("Process"), pl("Axes"), pl(a)))
	}
	for _, f := range CycleFields {
		s = append(s, sig("cycle."+f.Key, f.Type, pl("LastCycle"), pl(f.Key)))
	}
	s = append(s, sig(KeyAlarmLatest, TUInt32, pl("Alarms"), pl("Latest")))
	for i := 0; i < AlarmSlots; i++ {
		slot := "Alarm" + string(rune('0'+i))
		for _, f := range AlarmFields {
			s = append(s, sig("alarm."+string(rune('0'+i))+"."+f.Key, f.Type, pl("Alarms"), pl(slot), pl(f.Key)))
		}
	}
	s = append(s,
		wsig(KeyDispatchSerial, TString, pl("Dispatch"), pl("Serial")),
		wsig(KeyDispatchProg, TString, pl("Dispatch"), pl("Program")),
		wsig(KeyDispatchVer, TString, pl("Dispatch"), pl("ProgramVersion")),
		wsig(KeyDispatchSeq, TUInt32, pl("Dispatch"), pl("Seq")),
		sig(KeyDispatchAcc, TUInt32, pl("Dispatch"), pl("Accepted")),
	)
	if inspection {
		for _, f := range MeasurementFields {
			s = append(s, sig("measure."+f.Key, f.Type, pl("LastMeasurement"), pl(f.Key)))
		}
	}
	return s
}

// CellSignals returns the variables of a robot or station object under PL:Cell.
func CellSignals(robot bool) []Signal {
	fields := StationFields
	if robot {
		fields = RobotFields
	}
	out := make([]Signal, len(fields))
	for i, f := range fields {
		out[i] = sig(f.Key, f.Type, pl(f.Key))
	}
	return out
}

// Operation modes of MT:MachineToolOperationModeEnumeration.
const (
	OpModeManual     = 0
	OpModeAutomatic  = 1
	OpModeSetup      = 2
	OpModeAutoManual = 3
	OpModeService    = 4
	OpModeOther      = 5
)

// OperationModeName names an MT operation mode value.
func OperationModeName(v int32) string {
	switch v {
	case OpModeManual:
		return "Manual"
	case OpModeAutomatic:
		return "Automatic"
	case OpModeSetup:
		return "Setup"
	case OpModeAutoManual:
		return "AutoWithManualIntervention"
	case OpModeService:
		return "Service"
	}
	return "Other"
}

// messagesPath is the umati event notifier of a machine's alarms and messages.
var messagesPath = []QName{mt("Notification"), mt("Messages")}
