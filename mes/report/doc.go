// Package report builds the pilot-run report of a batch: the health check
// (verdict first, takt attainment, OEE loss waterfall, process capability
// per characteristic, machine capability and grinder comparison, reliability
// and scrap, bottleneck, wheel and dressing, energy and carbon) and the
// prescription (what a production line would need, from the line
// simulation of mes/linesim fed with the run's measured distributions).
//
// Build is pure: it takes the batch, its burs (with their genealogy and
// measurements), the machine events of the batch's window and, optionally,
// the KPI report's OEE for that window, and returns a Report whose every
// number names what it was computed from. Statistics come from
// mes/capability (gonum underneath). Render writes it as HTML or PDF with
// charts drawn by gonum.org/v1/plot, Chinese first and English second.
package report
