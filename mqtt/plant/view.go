package plant

import (
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/gorilla/websocket"
	"github.com/pilotline/pilotline/mes"
	"github.com/pilotline/pilotline/mqtt"
)

// Timeouts and bounds of the view.
// wall is the host's clock: the view's own clock, client ids and the
// viewers' network deadlines.
var wall mes.WallClock

const (
	// Coalesce is the least time between two pushes of the cards.
	Coalesce = 100 * time.Millisecond

	connectTimeout = 10 * time.Second
	writeWait      = 10 * time.Second
	pingEvery      = 30 * time.Second
	pongWait       = 2 * pingEvery
	clientQueue    = 8 // pushes queued per WebSocket client before it is dropped
	shutdownWait   = 5 * time.Second
)

//go:embed web
var webFS embed.FS

// Options configure a View.
type Options struct {
	Broker   string      // MQTT broker URL
	ClientID string      // default "pilotline-plant-<pid-ish>"
	Username string      // MQTT user name
	Password string      // MQTT password
	TLS      *tls.Config // for ssl:// and wss://; nil: the system's roots
	Addr     string      // HTTP listen address; port 0 = any free port
	Logger   *slog.Logger
	Now      func() time.Time
}

// View subscribes to the plant's broker and serves the plant page.
type View struct {
	opts   Options
	model  *Model
	log    *slog.Logger
	now    func() time.Time
	client paho.Client
	ln     net.Listener
	srv    *http.Server

	changed chan struct{}
	mu      sync.Mutex
	clients map[*wsClient]struct{}
	up      websocket.Upgrader
}

type wsClient struct {
	conn *websocket.Conn
	send chan []byte
}

// New returns a view; Open connects and listens.
func New(o Options) (*View, error) {
	if err := mqtt.ValidBrokerURL(o.Broker); err != nil {
		return nil, err
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = wall.Now
	}
	if o.ClientID == "" {
		o.ClientID = fmt.Sprintf("pilotline-plant-%d", wall.Now().UnixNano()%1_000_000)
	}
	v := &View{opts: o, model: NewModel(), log: o.Logger, now: o.Now,
		changed: make(chan struct{}, 1), clients: map[*wsClient]struct{}{}}
	v.up = websocket.Upgrader{ReadBufferSize: 1024, WriteBufferSize: 8192, CheckOrigin: sameHost}
	return v, nil
}

// Model is the view's model of the plant.
func (v *View) Model() *Model { return v.model }

// URL is the page's base URL, valid after Open.
func (v *View) URL() string { return "http://" + v.ln.Addr().String() + "/" }

// Open listens on Addr and connects to the broker; the connection retries
// by itself until Close.
func (v *View) Open() error {
	ln, err := net.Listen("tcp", v.opts.Addr)
	if err != nil {
		return fmt.Errorf("plant view listen: %w", err)
	}
	v.ln = ln
	mux := http.NewServeMux()
	sub, _ := fs.Sub(webFS, "web")
	mux.Handle("GET /", http.FileServerFS(sub))
	mux.HandleFunc("GET /api/v1/lines", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"lines": v.model.Cards()})
	})
	mux.HandleFunc("GET /ws", v.serveWS)
	v.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := v.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			v.log.Error("plant view http", "err", err)
		}
	}()

	o := paho.NewClientOptions().AddBroker(v.opts.Broker).SetClientID(v.opts.ClientID).
		SetCleanSession(true).SetOrderMatters(true).SetAutoReconnect(true).
		SetConnectRetry(true).SetConnectRetryInterval(time.Second).SetMaxReconnectInterval(5 * time.Second).
		SetConnectTimeout(connectTimeout).SetKeepAlive(10 * time.Second).
		SetOnConnectHandler(func(c paho.Client) {
			v.log.Info("plant view: connected", "broker", v.opts.Broker)
			tok := c.Subscribe(mqtt.Namespace+"/#", 0, v.onMessage)
			go func() {
				// Lines born while the view was away would go unseen until
				// their next data: ask every known line for its births.
				if tok.WaitTimeout(connectTimeout) && tok.Error() == nil {
					for _, r := range v.model.Known() {
						c.Publish(r.Topic(), 0, false, r.Payload(v.now()))
					}
				}
			}()
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			v.log.Warn("plant view: lost the broker", "err", err)
			v.model.Disconnected("plant view lost the broker")
			v.poke()
		})
	if v.opts.Username != "" {
		o.SetUsername(v.opts.Username).SetPassword(v.opts.Password)
	}
	if v.opts.TLS != nil {
		o.SetTLSConfig(v.opts.TLS)
	}
	v.client = paho.NewClient(o)
	v.client.Connect() // retries in the background
	return nil
}

func (v *View) onMessage(c paho.Client, m paho.Message) {
	if r := v.model.Apply(m.Topic(), m.Payload(), v.now()); r != nil {
		v.log.Info("plant view: asking for a rebirth", "group", r.Group, "node", r.Node)
		c.Publish(r.Topic(), 0, false, r.Payload(v.now()))
	}
	v.poke()
}

func (v *View) poke() {
	select {
	case v.changed <- struct{}{}:
	default:
	}
}

// Run pushes the cards to the WebSocket clients on every change, at most
// every Coalesce, until ctx is done; then it closes the clients.
func (v *View) Run(ctx context.Context) {
	defer v.closeClients()
	for {
		select {
		case <-ctx.Done():
			return
		case <-v.changed:
		}
		v.broadcast()
		select {
		case <-ctx.Done():
			return
		case <-time.After(Coalesce):
		}
	}
}

func (v *View) broadcast() {
	b, _ := json.Marshal(map[string]any{"lines": v.model.Cards()})
	v.mu.Lock()
	defer v.mu.Unlock()
	for c := range v.clients {
		select {
		case c.send <- b:
		default: // too slow: drop it rather than hold the others
			delete(v.clients, c)
			close(c.send)
		}
	}
}

func (v *View) closeClients() {
	v.mu.Lock()
	defer v.mu.Unlock()
	for c := range v.clients {
		delete(v.clients, c)
		close(c.send)
	}
}

func (v *View) serveWS(w http.ResponseWriter, r *http.Request) {
	conn, err := v.up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c := &wsClient{conn: conn, send: make(chan []byte, clientQueue)}
	first, _ := json.Marshal(map[string]any{"lines": v.model.Cards()})
	c.send <- first
	v.mu.Lock()
	v.clients[c] = struct{}{}
	v.mu.Unlock()
	go v.writer(c)
	// The reader only notices the close and answers pings.
	conn.SetReadLimit(512)
	conn.SetReadDeadline(wall.Now().Add(pongWait))
	conn.SetPongHandler(func(string) error { return conn.SetReadDeadline(wall.Now().Add(pongWait)) })
	for {
		if _, _, err := conn.ReadMessage(); err != nil {
			break
		}
	}
	v.mu.Lock()
	if _, ok := v.clients[c]; ok {
		delete(v.clients, c)
		close(c.send)
	}
	v.mu.Unlock()
}

func (v *View) writer(c *wsClient) {
	ping := time.NewTicker(pingEvery)
	defer func() { ping.Stop(); c.conn.Close() }()
	for {
		select {
		case b, ok := <-c.send:
			c.conn.SetWriteDeadline(wall.Now().Add(writeWait))
			if !ok {
				c.conn.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, ""))
				return
			}
			if err := c.conn.WriteMessage(websocket.TextMessage, b); err != nil {
				return
			}
		case <-ping.C:
			c.conn.SetWriteDeadline(wall.Now().Add(writeWait))
			if err := c.conn.WriteMessage(websocket.PingMessage, nil); err != nil {
				return
			}
		}
	}
}

// Close disconnects from the broker and stops the web server.
func (v *View) Close() error {
	if v.client != nil {
		v.client.Disconnect(250)
	}
	if v.srv == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	return v.srv.Shutdown(ctx)
}

// sameHost admits WebSocket connections from the view's own pages only.
func sameHost(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	return err == nil && u.Host == r.Host
}
