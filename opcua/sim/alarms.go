package sim

// AlarmText is one fault a simulated machine can raise.
type AlarmText struct {
	Code     string
	Text     string // English
	TextZH   string // Simplified Chinese
	Severity uint16 // OPC UA severity 1..1000
}

// alarmTable lists the faults of a tool grinder's control, as its alarm
// list would show them.
var alarmTable = []AlarmText{
	{"E1021", "Spindle overload: wheel spindle above 110 % rated torque", "主轴过载：砂轮主轴超过额定扭矩 110%", 800},
	{"E1104", "Coolant pressure low at grinding nozzle", "磨削喷嘴冷却液压力过低", 600},
	{"E2103", "Wheel breakage detected by acoustic emission sensor", "声发射传感器检测到砂轮破损", 900},
	{"E2210", "Workpiece clamping fault: collet not closed", "工件夹紧故障：夹头未闭合", 700},
	{"E3012", "Axis B following error exceeded", "B 轴跟随误差超限", 800},
	{"E3307", "Robot handover timeout at loading position", "上料位置机器人交接超时", 500},
	{"E4001", "Safety door interlock opened during cycle", "加工循环中安全门联锁被打开", 700},
	{"E5120", "Touch probe measurement out of range", "测头测量值超出范围", 400},
}

// AlarmCodes returns the codes of the simulated alarm table.
func AlarmCodes() []string {
	out := make([]string, len(alarmTable))
	for i, a := range alarmTable {
		out[i] = a.Code
	}
	return out
}

func alarmFor(code string) AlarmText {
	for _, a := range alarmTable {
		if a.Code == code {
			return a
		}
	}
	return AlarmText{Code: code, Text: "Unspecified fault " + code, TextZH: "未定义故障 " + code, Severity: 500}
}
