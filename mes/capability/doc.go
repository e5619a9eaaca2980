// Package capability holds the statistics a pilot run is judged by: process
// capability Cp/Cpk (short-term σ from the average moving range) and process
// performance Pp/Ppk (overall σ) per ISO 22514-2 with confidence intervals,
// one-sided indices for characteristics bounded on one side, the
// Anderson–Darling normality test, machine capability Cm/Cmk per ISO 22514-3,
// one-way ANOVA and Levene's test for comparing the grinders of a group, and
// the least-squares line of a characteristic against wheel wear or dressing
// count.
//
// Distributions and their quantiles come from gonum.org/v1/gonum/stat/distuv;
// this package writes no quantile function of its own. Every function is pure
// and works on plain float64 slices, so the same code serves the report, the
// QA page and an auditor's recomputation.
package capability
