//go:build !race

package opcua_test

const raceEnabled = false
