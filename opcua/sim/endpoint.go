package sim

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/server"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// Limits this server advertises in Server/ServerCapabilities/OperationLimits
// and enforces. gopcua cannot split a response into chunks, so every
// response must also stay under one 64 KiB message (gap: gopcua/opcua#860,
// fixed by #861 after v0.8.0; repro: Read 7,000 Doubles from server.New).
const (
	maxNodesPerRead      = 1000
	maxNodesPerWrite     = 1000
	maxNodesPerBrowse    = 1000
	maxNodesPerTranslate = 1000
	maxMonitoredPerCall  = 1000
	maxResponseBytes     = 60000
	maxContinuations     = 256
)

// endpoint is one OPC UA server of the simulated line. Its three mutex
// groups are its three jobs, each in a file of its own: mu guards the
// server's lifecycle and the fault proxy in front of it (this file and
// proxy.go), dirtyMu the value changes waiting for the notifier
// (notifier.go), cpMu the Browse continuation points (services.go).
type endpoint struct {
	line     *Line
	id       string
	host     string
	port     int
	sp       *space
	machines []*machine

	mu      sync.Mutex     // lifecycle and fault proxy
	srv     *server.Server // created on first start, closed with the line
	srvCtx  context.Context
	stop    context.CancelFunc
	private string         // host:port where srv listens
	keeper  *gopcua.Client // see keep
	ln      net.Listener   // the public port; nil before the first start and after close
	// refusing is set while the endpoint is stopped: its port stays bound,
	// so nothing else can take it before the endpoint starts again, and
	// every connection is reset at once, as a closed port would refuse it.
	refusing bool
	conns    map[net.Conn]struct{} // both sides of every proxied connection
	stalled  chan struct{}         // non-nil while stalled; closed to release
	pipes    sync.WaitGroup        // the accept loop and every forwarding goroutine

	dirtyMu sync.Mutex // notifier
	dirty   map[*node]struct{}
	wake    chan struct{}

	cpMu  sync.Mutex // Browse continuation points
	cpSeq uint64
	cps   map[string][]*ua.ReferenceDescription
	cpAge []string
}

func (e *endpoint) url() string {
	return "opc.tcp://" + net.JoinHostPort(e.host, strconv.Itoa(e.port))
}

// start serves e on its public port, creating its gopcua server on first
// use; it returns once the port is listening.
//
// The gopcua server listens on a private port and e forwards each public
// connection to it. Stopping the endpoint closes the public port and the
// forwarded connections only: the gopcua server lives until the line
// closes, because gopcua's Server.Close neither closes its clients' TCP
// connections (gap, repro: Close a server with a client attached; the
// client's conn stays open) nor is free of data races against a connection
// being registered (see keep).
func (e *endpoint) start(parent context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ln != nil {
		e.refusing = false
		return nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(e.host, strconv.Itoa(e.port)))
	if err != nil {
		return fmt.Errorf("endpoint %s: listen %s: %w", e.id, e.url(), err)
	}
	if e.srv == nil {
		if err := e.serve(parent); err != nil {
			ln.Close()
			return err
		}
	}
	e.ln, e.conns = ln, map[net.Conn]struct{}{}
	e.pipes.Add(1)
	go func() { defer e.pipes.Done(); e.accept(e.srvCtx, ln, e.private) }()
	return nil
}

// serve creates and starts e's gopcua server on a private port. e.mu is held.
func (e *endpoint) serve(parent context.Context) error {
	private, err := freePort(e.host)
	if err != nil {
		return fmt.Errorf("endpoint %s: %w", e.id, err)
	}
	srv, err := newServer(
		server.EndPoint(e.host, private), // the first endpoint is where gopcua listens
		server.EndPoint(e.host, e.port),
		server.EnableSecurity("None", ua.MessageSecurityModeNone),
		server.EnableAuthMode(ua.UserTokenTypeAnonymous),
		server.ServerName("Pilotline simulated line "+e.id),
		server.ManufacturerName("Pilotline"),
		server.ProductName("Pilotline line simulator"),
	)
	if err != nil {
		return err
	}
	for i := 1; i < nsCount; i++ {
		uri := nsURIs[i]
		if i == nsLocal {
			uri = "urn:pilotline:sim:" + e.id
		}
		if got := srv.AddNamespace(&nsView{ep: e, uri: uri, idx: uint16(i)}); got != i {
			return fmt.Errorf("endpoint %s: namespace %s got index %d, want %d", e.id, uri, got, i)
		}
	}
	objects := srv.Node(server.ObjectsFolder)
	if objects == nil {
		return fmt.Errorf("endpoint %s: no Objects folder", e.id)
	}
	objects.AddRef(e.sp.machines.serverShell(), server.RefTypeIDOrganizes, true)
	if e.sp.cell != nil {
		objects.AddRef(e.sp.cell.serverShell(), server.RefTypeIDOrganizes, true)
	}
	for nid, v := range map[uint32]uint32{
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRead:                          maxNodesPerRead,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerWrite:                         maxNodesPerWrite,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerBrowse:                        maxNodesPerBrowse,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerTranslateBrowsePathsToNodeIDs: maxNodesPerTranslate,
		id.Server_ServerCapabilities_OperationLimits_MaxNodesPerRegisterNodes:                 maxNodesPerRead,
		id.Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall:                 maxMonitoredPerCall,
	} {
		if n := srv.Node(ua.NewNumericNodeID(0, nid)); n != nil {
			n.SetAttribute(ua.AttributeIDValue, server.DataValueFromValue(v))
		}
	}

	// Only close stops the server, after Close: its serving loop must run
	// until then (see close), whatever happens to the line's context.
	ctx, cancel := context.WithCancel(context.WithoutCancel(parent))
	e.register(srv)
	if err := srv.Start(ctx); err != nil {
		cancel()
		return fmt.Errorf("endpoint %s: start server: %w", e.id, err)
	}
	privURL := "opc.tcp://" + net.JoinHostPort(e.host, strconv.Itoa(private))
	// the keeper's Read is served under e.mu (see read): let it through
	e.srv, e.srvCtx, e.stop, e.private = srv, ctx, cancel, net.JoinHostPort(e.host, strconv.Itoa(private))
	e.mu.Unlock()
	keeper, err := keep(ctx, privURL)
	e.mu.Lock()
	if err != nil {
		e.srv = nil
		_ = srv.Close()
		cancel()
		return fmt.Errorf("endpoint %s: %w", e.id, err)
	}
	e.keeper = keeper
	return nil
}

// keep opens a secure channel to a freshly started gopcua server and reads
// through it once, and the channel stays open until the server closes.
//
// IMPORTANT: this is what makes Server.Close race-free (gap, repro under
// -race: dial a server.New and Close it while the dial's channel is still
// being registered: WaitGroup Add races Wait). gopcua counts its
// channels in a sync.WaitGroup that Close waits on, and each channel's Add
// runs on a goroutine of its own: the race detector flags an Add that takes
// the count from zero unless it happened before the Wait. The keeper's
// channel is the only one to do so (it is first and outlives the others),
// and its Add happens before the line's Close through its Read, served
// under e.mu, which halt takes before Close.
func keep(ctx context.Context, url string) (*gopcua.Client, error) {
	c, err := gopcua.NewClient(url, gopcua.SecurityMode(ua.MessageSecurityModeNone), gopcua.AutoReconnect(false),
		gopcua.DialTimeout(10*time.Second), gopcua.RequestTimeout(10*time.Second))
	if err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Dial(dctx); err != nil {
		return nil, fmt.Errorf("keeper: dial: %w", err)
	}
	req := &ua.ReadRequest{TimestampsToReturn: ua.TimestampsToReturnNeither,
		NodesToRead: []*ua.ReadValueID{{NodeID: ua.NewNumericNodeID(0, id.Server_ServerStatus_CurrentTime), AttributeID: ua.AttributeIDValue, DataEncoding: &ua.QualifiedName{}}}}
	if err := c.Send(dctx, req, func(ua.Response) error { return nil }); err != nil {
		_ = c.Close(dctx)
		return nil, fmt.Errorf("keeper: read: %w", err)
	}
	return c, nil
}

// halt stops e: its connections are dropped and new ones reset, its port
// stays reserved and its gopcua server stays, ready for start.
func (e *endpoint) halt() {
	e.mu.Lock()
	conns := e.conns
	if e.ln != nil {
		e.refusing, e.conns = true, map[net.Conn]struct{}{}
	}
	e.mu.Unlock()
	for c := range conns {
		c.Close()
	}
}

// shut closes e's public port and drops its connections for good.
func (e *endpoint) shut() {
	e.mu.Lock()
	ln, conns := e.ln, e.conns
	e.ln, e.conns, e.refusing = nil, nil, false
	e.mu.Unlock()
	if ln == nil {
		return
	}
	ln.Close()
	for c := range conns {
		c.Close()
	}
}

// close shuts e, waits until no byte can reach its gopcua server any more,
// then closes the server.
func (e *endpoint) close() error {
	e.shut()
	e.setStall(false) // a held-back pipe must see its closed connection
	e.pipes.Wait()
	e.mu.Lock()
	srv, stop, keeper := e.srv, e.stop, e.keeper
	e.srv, e.stop, e.keeper = nil, nil, nil
	e.mu.Unlock()
	if srv == nil {
		return nil
	}
	// gopcua closes a channel without closing its connection, and waits
	// (up to 10 s) until the peer has: every peer goes first, the keeper
	// last. Its channel's Add happened before this (see keep), and every
	// other channel was counted while it was open: the forwarder, whose
	// connections were the only others, is gone.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = keeper.Close(ctx)
	// gopcua's serving loop must still run while Close waits for the
	// channel goroutines, or a goroutine holding a last message blocks
	// forever and Close gives up only after 10 s.
	err := srv.Close()
	stop()
	return err
}

func (e *endpoint) current() *server.Server {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.srv
}

func (e *endpoint) endpoint() mes.Endpoint { return mes.Endpoint{ID: e.id, URL: e.url()} }
