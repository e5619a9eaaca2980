package sim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/pilotline/pilotline/mes"
)

// Control is the fault-injection and state API that `pilotline sim
// --control ADDR` serves beside the OPC UA endpoints, so that a soak run
// in another process can break the line and read its true state.
//
//	GET  /state                              State: clock, machines, robots, stations
//	POST /endpoints/{id}/stop | /start       kill or restart an endpoint
//	POST /endpoints/{id}/stall?on=true|false stall an endpoint (accepts, never answers)
//	POST /machines/{id}/maintenance?on=B     planned maintenance on or off
//	POST /machines/{id}/alarm?code=C         raise an alarm (cleared by the simulator after its repair time)
//
// Errors are JSON {"error": "..."} with 400 or 404.
type Control struct {
	line   *Line
	logger *slog.Logger
}

// NewControl returns the control API of l, logging internal errors to logger.
func NewControl(l *Line, logger *slog.Logger) *Control {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Control{line: l, logger: logger}
}

// State is the body of GET /state: the simulator's own view of the line.
type State struct {
	Now      time.Time                    `json:"now"`
	Machines []MachineView                `json:"machines"`
	Robots   map[string]mes.RobotStatus   `json:"robots"`
	Stations map[string]mes.StationStatus `json:"stations"`
}

// Handler serves the API.
func (c *Control) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /state", c.state)
	mux.HandleFunc("POST /endpoints/{id}/{action}", c.endpoint)
	mux.HandleFunc("POST /machines/{id}/{action}", c.machine)
	return mux
}

// Serve listens on addr (loopback) and serves until ctx is done.
func (c *Control) Serve(ctx context.Context, addr string) (net.Addr, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--control: %w", err)
	}
	srv := &http.Server{Handler: c.Handler(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			c.logger.Error("sim control stopped", "err", err)
		}
	}()
	return ln.Addr(), nil
}

func (c *Control) state(w http.ResponseWriter, _ *http.Request) {
	cfg := c.line.cfg
	st := State{Now: c.line.Now(), Robots: map[string]mes.RobotStatus{}, Stations: map[string]mes.StationStatus{}}
	for _, m := range cfg.Machines {
		if v, ok := c.line.Machine(m.ID); ok {
			st.Machines = append(st.Machines, v)
		}
	}
	for _, r := range cfg.Robots {
		if v, ok := c.line.Robot(r.ID); ok {
			st.Robots[r.ID] = v
		}
	}
	for _, s := range cfg.Stations {
		if v, ok := c.line.Station(s.ID); ok {
			st.Stations[s.ID] = v
		}
	}
	writeJSON(w, http.StatusOK, st)
}

func (c *Control) endpoint(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var err error
	switch r.PathValue("action") {
	case "stop":
		err = c.line.StopEndpoint(id)
	case "start":
		err = c.line.StartEndpoint(id)
	case "stall":
		var on bool
		if on, err = strconv.ParseBool(r.URL.Query().Get("on")); err != nil {
			err = mes.Errorf(mes.EINVALID, "on: want true or false")
			break
		}
		err = c.line.Stall(id, on)
	default:
		err = mes.Errorf(mes.ENOTFOUND, "no endpoint action %q", r.PathValue("action"))
	}
	c.reply(w, err)
}

func (c *Control) machine(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var err error
	switch r.PathValue("action") {
	case "maintenance":
		var on bool
		if on, err = strconv.ParseBool(r.URL.Query().Get("on")); err != nil {
			err = mes.Errorf(mes.EINVALID, "on: want true or false")
			break
		}
		err = c.line.SetMaintenance(id, on)
	case "alarm":
		err = c.line.RaiseAlarm(id, r.URL.Query().Get("code"))
	default:
		err = mes.Errorf(mes.ENOTFOUND, "no machine action %q", r.PathValue("action"))
	}
	c.reply(w, err)
}

func (c *Control) reply(w http.ResponseWriter, err error) {
	switch mes.ErrorCode(err) {
	case "":
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
	case mes.ENOTFOUND:
		writeJSON(w, http.StatusNotFound, map[string]string{"error": mes.ErrorMessage(err)})
	case mes.EINVALID:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": mes.ErrorMessage(err)})
	default:
		c.logger.Error("sim control", "err", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": err.Error()})
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
