package bolt_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/pilotline/pilotline/fixtures"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mes/bolt"
)

func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "pilotline-example")
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "data", "pilotline.db"), bolt.Options{SerialPattern: "{batch}-{seq:05}"})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	products, batches, burs := bolt.NewProductService(db), bolt.NewBatchService(db), bolt.NewBurService(db)

	line, _ := mes.LoadLineConfig(bytes.NewReader(fixtures.LineJSON))
	p := line.Products[0]
	_ = products.CreateProduct(ctx, &p)
	b := &mes.Batch{Product: p.ISO, Quantity: 1, Org: "Acme Dental", State: mes.BatchReleased}
	_ = batches.CreateBatch(ctx, b)

	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	bur, _ := burs.StartBur(ctx, b.ID, at)
	for i, op := range p.Route {
		machine := line.GroupMachines(op.Group)[0]
		_ = burs.AssignBur(ctx, bur.Serial, machine)
		start := at.Add(time.Duration(i) * 30 * time.Minute)
		end := start.Add(time.Duration(op.IdealCycleS) * time.Second)
		_, _ = burs.CompleteOperation(ctx, machine, mes.Cycle{Seq: 1, Serial: bur.Serial, Program: op.Program, Start: start, End: end})
	}
	values := map[string]float64{}
	for ch, t := range p.Tolerances {
		values[ch] = t.Nominal
	}
	bur, _ = burs.RecordMeasurement(ctx, mes.Measurement{Seq: 1, Serial: bur.Serial, Station: "QC1", Time: at.Add(3 * time.Hour), Values: values})
	for _, op := range bur.Operations {
		fmt.Println(op.Number, op.Machine, op.Program, op.CycleS)
	}
	b, _ = batches.FindBatch(ctx, b.ID)
	fmt.Println(bur.Serial, bur.Disposition, b.State, b.Completed)
	// Output:
	// 10 G01 O1010_SHANK 780
	// 20 G06 O2020_HEAD_R 780
	// 30 G11 O3030_FLUTE6 1620
	// 40 G21 O4040_NECK 780
	// 50 QC1 M5050_GAUGE 90
	// B000001-00001 good completed 1
}

func ExampleEventStore_Publish() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "pilotline-example")
	defer os.RemoveAll(dir)
	db, err := bolt.Open(filepath.Join(dir, "pilotline.db"), bolt.Options{})
	if err != nil {
		panic(err)
	}
	defer db.Close()
	events := bolt.NewEventStore(db)

	at := time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC)
	e := mes.MachineEvent{Machine: "G07", Kind: mes.EventState, State: mes.StateGrinding, SourceTime: at}
	_ = events.Publish(ctx, e)
	_ = events.Publish(ctx, e) // a replay after a reconnect: stored once
	_ = events.Publish(ctx, mes.MachineEvent{Machine: "G07", Kind: mes.EventState, State: mes.StateIdle, SourceTime: at.Add(13 * time.Minute)})

	for e, err := range events.Events(ctx, mes.EventFilter{Machine: "G07"}) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e.SourceTime.Format(time.TimeOnly), e.State)
	}
	// Output:
	// 08:00:00 grinding
	// 08:13:00 idle
}
