// Package twintest makes a plausible stream of machine events for a line
// without any machine or OPC UA, for the tests, benchmarks and browser
// tests of the twin and the web view. The real line's events come from
// acquisition.
package twintest
