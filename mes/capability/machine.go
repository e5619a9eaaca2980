package capability

import "fmt"

// MinMachineParts is the sample size ISO 22514-3 asks for in a machine
// capability study; fewer parts give a study flagged as short.
const MinMachineParts = 50

// MachineStudy is the machine capability of one grinder for one
// characteristic (ISO 22514-3): the spread of consecutive parts made by the
// grinder alone, so σ is the overall standard deviation of its parts.
type MachineStudy struct {
	N     int     `json:"n"`
	Mean  float64 `json:"mean"`
	Sigma float64 `json:"sigma"`
	// Cm needs both limits; nil for a one-sided specification.
	Cm  *Index `json:"cm,omitempty"`
	Cmk Index  `json:"cmk"`
	// Short is set when fewer than MinMachineParts parts were measured.
	Short bool `json:"short"`
}

// Machine computes Cm/Cmk of one grinder's values against spec.
func Machine(xs []float64, spec Spec, conf float64) (MachineStudy, error) {
	st, err := Process(xs, spec, conf)
	if err != nil {
		return MachineStudy{}, fmt.Errorf("machine capability: %w", err)
	}
	return MachineStudy{
		N: st.N, Mean: st.Mean, Sigma: st.SigmaOverall, Cm: st.Pp, Cmk: st.Ppk,
		Short: st.N < MinMachineParts,
	}, nil
}
