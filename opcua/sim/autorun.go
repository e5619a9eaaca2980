package sim

import (
	"github.com/pilotline/pilotline/mes"
)

// autorun dispatches the line to itself along the first product's route:
// a new blank whenever a machine of the first operation is free, and every
// finished bur to the next operation's free machines in arrival order.
type autorun struct {
	l       *Line
	product *mes.Product
	groups  [][]*machine // machines per route operation, in line order
	queues  [][]string   // burs waiting for each operation
	pattern mes.SerialPattern
	batch   string
	started int
	wip     int
	limit   int
	pending bool
}

func newAutorun(l *Line) *autorun {
	p := &l.cfg.Products[0]
	a := &autorun{l: l, product: p, queues: make([][]string, len(p.Route)), groups: make([][]*machine, len(p.Route))}
	for i, op := range p.Route {
		for _, m := range l.machines {
			if m.cfg.Group == op.Group {
				a.groups[i] = append(a.groups[i], m)
				a.limit++
			}
		}
	}
	a.limit += 5
	pat, err := mes.ParseSerialPattern(l.cfg.SerialPattern)
	if err != nil {
		pat = mes.MustParseSerialPattern("{batch}-{seq:05}")
	}
	a.pattern = pat
	a.batch = "SIM" + l.simStart.UTC().Format("060102")
	return a
}

func (a *autorun) dispatch() {
	for i := len(a.product.Route) - 1; i >= 0; i-- {
		op := a.product.Route[i]
		prog := a.l.programs[op.Program]
		for _, m := range a.groups[i] {
			if m.state != mes.StateIdle || m.job != nil {
				continue
			}
			var serial string
			if i == 0 {
				if a.wip >= a.limit {
					break
				}
				a.started++
				s, err := a.pattern.Format(a.batch, a.started)
				if err != nil {
					return
				}
				serial = s
				a.wip++
			} else {
				if len(a.queues[i]) == 0 {
					break
				}
				serial = a.queues[i][0]
				a.queues[i] = a.queues[i][1:]
			}
			m.accept(serial, prog, op.ProgramVersion)
		}
	}
}

// done moves a finished bur on; scrap and finished burs leave the line.
func (a *autorun) done(j *job) {
	if j.prog.product != a.product {
		return
	}
	next := j.prog.index + 1
	if j.aborted || next >= len(a.product.Route) {
		a.wip--
		a.l.kickAutorun()
		return
	}
	a.queues[next] = append(a.queues[next], j.serial)
	a.l.kickAutorun()
}
