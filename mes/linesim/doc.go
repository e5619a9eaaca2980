// Package linesim is the line prescription's discrete-event simulation: a
// line of machine groups along a product's route, run in virtual time with
// the grinder model of mes/grinder (the same model the OPC UA simulator
// runs in real time), fed with distributions measured in a pilot run
// (Measure) or configured ones.
//
// Simulate runs one replication; Replicate runs many in parallel and gives
// throughput, takt and OEE with confidence bands; Prescribe finds the
// machines per group a target annual volume needs; Config's With methods
// make the what-if variants (another grinder in a group, shorter dressing,
// another shift pattern).
//
// Definitions follow the report: throughput is good burs leaving the last
// operation per open hour; actual takt is the open time between good burs;
// line OEE is output based, good burs × the line's ideal takt ÷ open time,
// where the ideal takt is the slowest group's ideal cycle ÷ its machines.
package linesim
