// Package soak is the shift under fire behind `pilotline soak`: it runs the
// real binary as two processes — the simulated line (`pilotline sim
// --control`, whose fault API is opcua/sim's Control) and the MES
// (`pilotline serve --sim=false`) — through a simulated shift at high speed
// with a seeded schedule of faults, MES kills, WebSocket viewers and
// malformed requests, then checks the invariants and writes a report
// (report.txt, report.html, soak.json) and a chart.
//
// The command only parses flags into a Config and calls Run.
package soak
