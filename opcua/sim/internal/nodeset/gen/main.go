// Command gen writes trimmed.xml, the standard nodeset trimmed for the
// simulated line's servers.
package main

import (
	"log"
	"os"

	"github.com/gopcua/opcua/schema"

	"github.com/pilotline/pilotline/opcua/sim/internal/nodeset"
)

func main() {
	b, err := nodeset.Trim(schema.OpcUaNodeSet2)
	if err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile("trimmed.xml", b, 0o644); err != nil {
		log.Fatal(err)
	}
}
