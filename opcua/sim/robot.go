package sim

import (
	"github.com/pilotline/pilotline/mes"
)

// step is one move or hand-over of a robot task.
type step struct {
	state  mes.MachineState // moving, loading or unloading
	target string           // where the robot goes or works
	dur    float64          // simulated seconds
	bur    string           // bur carried during the step
	holds  string           // bur carried after the step ends
	ready  func() float64   // > 0: wait that long before starting (empty magazine)
	end    func()
}

// task is a robot job for one machine: load it or unload it.
type task struct {
	m       *machine
	steps   []step
	onStart func()
}

// robot is a robot arm serving the machines of its row, one task at a time
// in request order.
type robot struct {
	l      *Line
	cfg    mes.Robot
	ep     *endpoint
	vars   map[string]*node
	hidden bool // a machine's private loader, not part of the cell

	state      mes.MachineState
	at, target string
	bur        string
	queue      []*task
	busy       bool
}

func (r *robot) request(t *task) {
	r.queue = append(r.queue, t)
	if !r.busy {
		r.next()
	}
}

func (r *robot) next() {
	if len(r.queue) == 0 {
		r.busy = false
		r.state, r.target, r.bur = mes.StateIdle, "", ""
		r.publish()
		return
	}
	r.busy = true
	t := r.queue[0]
	r.queue = r.queue[1:]
	t.onStart()
	r.run(t, 0)
}

func (r *robot) run(t *task, i int) {
	if i == len(t.steps) {
		r.next()
		return
	}
	s := t.steps[i]
	if s.state == mes.StateMoving && r.at == s.target {
		r.run(t, i+1)
		return
	}
	if s.ready != nil {
		if wait := s.ready(); wait > 0 {
			r.state, r.target = mes.StateIdle, ""
			r.publish()
			if t.m.state == mes.StateLoading {
				t.m.setState(mes.StateStarved)
			}
			r.l.after(wait, func() { r.run(t, i) })
			return
		}
		if t.m.state == mes.StateStarved {
			t.m.setState(mes.StateLoading)
		}
	}
	r.state, r.bur = s.state, s.bur
	if s.state == mes.StateMoving {
		r.target = s.target
	} else {
		r.at, r.target = s.target, ""
	}
	r.publish()
	r.l.after(s.dur, func() {
		if s.state == mes.StateMoving {
			r.at, r.target = s.target, ""
		}
		if s.holds != "" {
			r.bur = s.holds
		}
		r.publish()
		if s.end != nil {
			s.end()
		}
		r.run(t, i+1)
	})
}

func (r *robot) publish() {
	if r.ep == nil || r.hidden {
		return
	}
	r.l.set(r.ep, r.vars["State"], string(r.state))
	r.l.set(r.ep, r.vars["At"], r.at)
	r.l.set(r.ep, r.vars["Target"], r.target)
	r.l.set(r.ep, r.vars["Bur"], r.bur)
}

// station is the blank magazine or the output tray.
type station struct {
	l          *Line
	cfg        mes.Station
	ep         *endpoint
	vars       map[string]*node
	count      uint32
	lastSerial string
	refillAt   float64 // seconds after simStart when an empty magazine is full again; 0 none
}

// take removes a blank; it returns how long to wait when the magazine is
// empty (an operator refills it after refillS).
func (s *station) take() float64 {
	now := s.l.now.Sub(s.l.simStart).Seconds()
	if s.count == 0 {
		if s.refillAt == 0 {
			s.refillAt = now + refillS
			s.l.after(refillS, func() {
				s.count, s.refillAt = uint32(s.cfg.Capacity), 0
				s.publish()
			})
		}
		return max(s.refillAt-now, 1)
	}
	s.count--
	s.publish()
	return 0
}

// deliver puts a finished bur on the output tray. The count is the number of
// burs delivered since start and only increases.
func (s *station) deliver(serial string) {
	s.count++
	s.lastSerial = serial
	s.publish()
}

func (s *station) publish() {
	if s.ep == nil {
		return
	}
	s.l.set(s.ep, s.vars["Count"], s.count)
	s.l.set(s.ep, s.vars["LastSerial"], s.lastSerial)
}
