package kpi

// Formulas are the definitions behind every figure of the report, keyed by
// the report's field names; GET /api/v1/kpi returns them with the figures
// and README.md lists them (a test keeps the two in step).
var Formulas = map[string]string{
	"pbt_s":                  "PBT = POT − PDOT; POT = shift time; PDOT = breaks + maintenance inside a maintenance window",
	"apt_s":                  "APT = grinding (measuring) + loading + unloading, the span PRU is planned for; production during a break counts where it was made",
	"adet_s":                 "ADET = alarm + maintenance outside any maintenance window",
	"no_work_s":              "no_work = idle (no demand) + starved + blocked",
	"availability":           "availability = APT / (PBT − no_work)",
	"availability_pbt":       "availability_pbt = APT / PBT",
	"effectiveness_uncapped": "effectiveness = Σ PRU / APT; an aborted job earns min(PRU, its run time)",
	"quality":                "quality = GQ / PQ; GQ: inspected and not failing a characteristic this operation forms; SQ: aborted here or failing one it forms; uninspected burs are pending, not good",
	"oee_uncapped":           "OEE = availability × effectiveness × quality",
	"nee":                    "NEE = AUPT / PBT × effectiveness × quality; AUPT = APT + ASUT",
	"technical_efficiency":   "technical efficiency = APT / (APT + ADET)",
	"setup_ratio":            "setup ratio = ASUT / AUPT",
	"scrap_ratio":            "scrap ratio = SQ / PQ",
	"throughput_per_h":       "throughput rate = PQ / PBT (machine); GQ / PBT (line)",
	"mtbf_s":                 "MTBF = AUPT / (FE + 1); FE = stops in alarm or unplanned maintenance",
	"mttr_s":                 "MTTR = ADET / FE",
	"line.oee":               "line OEE = GQ × ideal takt / PBT of the line; ideal takt = max over the route of PRU / machines in the group",
	"first_pass_yield":       "first-pass yield = burs passing their first inspection / burs inspected",
	"rework_ratio":           "rework ratio = RQ / PQ; RQ = burs re-inspected after failing their first inspection",
	"takt.target_s":          "target takt = available planned busy time ÷ demand; live: tightest due date over open batches, overdue burs included; past window: its planned busy time ÷ burs due in it",
	"takt.mean_s":            "actual takt = mean interval between good burs leaving the line, in planned busy time",
}
