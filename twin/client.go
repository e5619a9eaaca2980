package twin

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/pilotline/pilotline/mes"
)

// wall times the connections' network deadlines and paces the deltas.
var wall mes.WallClock

// WebSocket timeouts and limits of one viewer connection.
const (
	// WriteWait bounds one write to a viewer.
	WriteWait = 5 * time.Second
	// PongWait is how long a viewer may stay silent (no pong, no message)
	// before it is considered gone.
	PongWait = 30 * time.Second
	// PingPeriod is how often the hub pings each viewer; less than PongWait.
	PingPeriod = PongWait * 9 / 10
	// MaxMessageSize is the read limit on messages from viewers: they only
	// ever send short control messages.
	MaxMessageSize = 4096
	// DroppedNoticeWait bounds the best-effort "dropped" notice to a slow viewer.
	DroppedNoticeWait = time.Second
)

// Reasons sent in {"type":"dropped"} and close frames.
const (
	ReasonSlow     = "slow_consumer"
	ReasonShutdown = "shutdown"
)

// client is one connected viewer.
type client struct {
	hub    *Hub
	conn   *websocket.Conn
	filter Filter
	send   chan *websocket.PreparedMessage
	kill   chan string // reason, "" to close silently; buffered 1
	// Owned by Run.
	view     *view
	wantSnap bool
	gone     bool
}

// checkOrigin allows non-browser clients (no Origin), the same host, and the
// configured origins.
func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err == nil && strings.EqualFold(u.Host, r.Host) {
		return true
	}
	for _, a := range h.o.AllowedOrigins {
		if a == "*" || strings.EqualFold(strings.TrimSuffix(a, "/"), origin) {
			return true
		}
	}
	h.o.Logger.Warn("twin origin rejected", "origin", origin, "host", r.Host)
	return false
}

// parseFilter reads ?batch=ID and ?grinders=G01,G02. Errors: EINVALID.
func (h *Hub) parseFilter(q url.Values) (Filter, error) {
	var f Filter
	if b := q.Get("batch"); b != "" {
		if err := mes.ValidID("batch", b); err != nil {
			return f, err
		}
		f.Batch = b
	}
	if gs := q.Get("grinders"); gs != "" {
		for _, id := range strings.Split(gs, ",") {
			id = strings.TrimSpace(id)
			if mc, ok := h.line.Machine(id); !ok || mc.Kind != mes.KindGrinder {
				return f, mes.Errorf(mes.EINVALID, "grinders: unknown grinder %q", id)
			}
			if !strings.Contains(","+strings.Join(f.Grinders, ",")+",", ","+id+",") {
				f.Grinders = append(f.Grinders, id)
			}
		}
	}
	return f, nil
}

// ServeHTTP is GET /ws/twin: it upgrades to a WebSocket and streams a
// snapshot, then deltas. ?batch=ID or ?grinders=G01,G02 narrow the view.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, err := h.parseFilter(r.URL.Query())
	if err != nil {
		http.Error(w, mes.ErrorMessage(err), http.StatusBadRequest)
		return
	}
	select {
	case <-h.done:
		http.Error(w, "twin stopped", http.StatusServiceUnavailable)
		return
	default:
	}
	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &client{hub: h, conn: conn, filter: f,
		send: make(chan *websocket.PreparedMessage, h.o.SendQueue), kill: make(chan string, 1)}
	if !h.request(r.Context(), reqRegister, c) {
		conn.Close()
		return
	}
	go c.writeLoop()
	c.readLoop(r.Context())
}

// request hands r to Run, or gives up when the hub or the caller stops.
func (h *Hub) request(ctx context.Context, kind requestKind, c *client) bool {
	select {
	case h.reqs <- request{kind: kind, c: c}:
		return true
	case <-h.done:
	case <-ctx.Done():
	}
	return false
}

// readLoop handles the viewer's control messages until the connection ends.
func (c *client) readLoop(ctx context.Context) {
	defer c.hub.request(context.WithoutCancel(ctx), reqUnregister, c)
	c.conn.SetReadLimit(MaxMessageSize)
	_ = c.conn.SetReadDeadline(wall.Now().Add(PongWait))
	c.conn.SetPongHandler(func(string) error { return c.conn.SetReadDeadline(wall.Now().Add(PongWait)) })
	for {
		_, b, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		_ = c.conn.SetReadDeadline(wall.Now().Add(PongWait))
		var m struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(b, &m) == nil && m.Type == "resync" {
			if !c.hub.request(ctx, reqResync, c) {
				return
			}
		}
	}
}

// writeLoop is the only writer of the connection.
func (c *client) writeLoop() {
	ping := time.NewTicker(PingPeriod)
	defer ping.Stop()
	defer c.conn.Close()
	for {
		select {
		case reason := <-c.kill:
			c.closeWith(reason)
			return
		default:
		}
		select {
		case reason := <-c.kill:
			c.closeWith(reason)
			return
		case msg := <-c.send:
			_ = c.conn.SetWriteDeadline(wall.Now().Add(WriteWait))
			if err := c.conn.WritePreparedMessage(msg); err != nil {
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, wall.Now().Add(WriteWait)); err != nil {
				return
			}
		}
	}
}

func (c *client) closeWith(reason string) {
	if reason == "" {
		return
	}
	dl := wall.Now().Add(DroppedNoticeWait)
	_ = c.conn.SetWriteDeadline(dl)
	code := websocket.CloseGoingAway
	if reason != ReasonShutdown {
		code = websocket.ClosePolicyViolation
		b, _ := json.Marshal(map[string]string{"type": "dropped", "reason": reason})
		_ = c.conn.WriteMessage(websocket.TextMessage, b)
	}
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), dl)
}
