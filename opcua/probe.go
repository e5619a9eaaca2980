package opcua

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// ProbeOptions say how to reach the server a probe browses.
type ProbeOptions struct {
	URL             string
	SecurityPolicy  string // None (default) or Basic256Sha256
	SecurityMode    string // None, Sign, SignAndEncrypt
	Username        string
	PasswordEnv     string // the environment variable holding the password
	DataDir         string // the client certificate lives in DataDir/pki, the trusted servers in DataDir/pki/trusted
	TrustOnFirstUse bool   // add an unknown server certificate to the trust list
	Logger          *slog.Logger
}

// ProbedMachine is one machine tool a probe found.
type ProbedMachine struct {
	BrowseName   string
	Namespace    string // namespace URI of the browse name
	TypeDef      string // its type definition (node id)
	Capabilities []string
	Lacks        []string
	Nodes        []ProbedNode // the resolved signals, in model order
	Unresolved   []string     // signal keys not found
	Messages     string       // Notification/Messages node id, "" if absent
}

// ProbedNode is where one signal is on the server.
type ProbedNode struct {
	Key  string
	Node string
	Path string
}

// Probe connects to a server, finds every machine tool under
// Objects/MA:Machines (by MachineToolType or a subtype) and resolves for
// each what acquisition would read: the same resolution, instances found
// by type, as acquisition does. Errors: EINVALID for bad options.
func Probe(ctx context.Context, o ProbeOptions) ([]ProbedMachine, error) {
	if err := mes.ValidEndpointURL(o.URL); err != nil {
		return nil, mes.Errorf(mes.EINVALID, "--url: %v", err)
	}
	line := func(machines []mes.Machine) *mes.LineConfig {
		return &mes.LineConfig{Name: "probe", Acquisition: mes.Acquisition{Mode: mes.ModePoll, PollIntervalMS: 500,
			SecurityPolicy: o.SecurityPolicy, SecurityMode: o.SecurityMode, Username: o.Username, PasswordEnv: o.PasswordEnv, TrustOnFirstUse: o.TrustOnFirstUse},
			Endpoints: []mes.Endpoint{{ID: "probe", URL: o.URL}}, Machines: machines}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a, err := New(Options{Line: line(nil), DataDir: o.DataDir, Sink: mes.Sinks{}, Logger: log})
	if err != nil {
		return nil, err
	}
	ep := a.eps[0]
	cctx, cancel := context.WithTimeout(ctx, ep.connectTimeout())
	c, err := dial(cctx, o.URL, ep.sec, a.ident, ep.connectTimeout(), log)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", o.URL, err)
	}
	r := &resolver{c: c, ns: loadNamespaces(c), lim: readLimits(ctx, c)}
	tt := newTypes(r, func(i uint16) string { return nsURI(c, i) })
	top, err := r.browse(ctx, []*ua.NodeID{ua.NewNumericNodeID(0, id.ObjectsFolder)})
	var found []child
	if err == nil {
		for _, k := range top[0] {
			if k.name.Name != "Machines" || nsURI(c, k.name.NamespaceIndex) != NsMA {
				continue
			}
			kids, berr := r.browse(ctx, []*ua.NodeID{k.id})
			if berr != nil {
				err = berr
				break
			}
			for _, m := range kids[0] {
				if !m.isTypeDf && m.class == ua.NodeClassObject && tt.isA(ctx, m.typeDef, NsMT, MachineToolTypeID) {
					found = append(found, m)
				}
			}
		}
	}
	_ = c.Close(context.Background())
	if err != nil {
		return nil, fmt.Errorf("browse %s: %w", o.URL, err)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("%s: no MachineToolType (or subtype) instance under Objects/MA:Machines", o.URL)
	}
	var machines []mes.Machine
	out := make([]ProbedMachine, len(found))
	for i, k := range found {
		machines = append(machines, mes.Machine{ID: fmt.Sprintf("M%d", i+1), Kind: mes.KindGrinder, Endpoint: "probe", Node: k.name.Name})
		out[i] = ProbedMachine{BrowseName: k.name.Name, Namespace: nsURI(c, k.name.NamespaceIndex)}
		if k.typeDef != nil && k.typeDef.NodeID != nil {
			out[i].TypeDef = k.typeDef.NodeID.String()
		}
	}
	a, err = New(Options{Line: line(machines), DataDir: o.DataDir, Sink: mes.Sinks{}, Logger: log})
	if err != nil {
		return nil, err
	}
	ep = a.eps[0]
	s, err := ep.connect(ctx)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", o.URL, err)
	}
	defer s.close()
	for i := range out {
		obj := a.byID[machines[i].ID]
		st := a.status[obj.id]
		out[i].Capabilities, out[i].Lacks = st.Capabilities, st.Lacks
		if n := s.messages[obj]; n != nil {
			out[i].Messages = n.String()
		}
		for j, sg := range obj.signals {
			var n *ua.NodeID
			if ids := s.ids[obj]; ids != nil {
				n = ids[j]
			}
			if n == nil {
				out[i].Unresolved = append(out[i].Unresolved, sg.Key)
				continue
			}
			out[i].Nodes = append(out[i].Nodes, ProbedNode{Key: sg.Key, Node: n.String(), Path: PathString(s.paths[obj][j])})
		}
	}
	return out, nil
}

// WriteProbe prints what Probe found for a person: per machine its type,
// capabilities, every resolved node and, in short, what is missing, then a
// configuration snippet.
func WriteProbe(w io.Writer, url string, ms []ProbedMachine) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, m := range ms {
		fmt.Fprintf(tw, "machine %q (namespace %s), type %s\n", m.BrowseName, m.Namespace, m.TypeDef)
		fmt.Fprintf(tw, "  has:   %s\n", strings.Join(m.Capabilities, ", "))
		fmt.Fprintf(tw, "  lacks: %s\n", strings.Join(m.Lacks, ", "))
		fmt.Fprintln(tw, "  key\tnode\tbrowse path")
		for _, n := range m.Nodes {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", n.Key, n.Node, n.Path)
		}
		if m.Messages != "" {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", "alarms (events)", m.Messages, PathString(messagesPath))
		}
		var pl, other []string
		for _, k := range m.Unresolved {
			if isPilotlineKey(k) {
				pl = append(pl, k)
			} else {
				other = append(other, k)
			}
		}
		fmt.Fprintf(tw, "  not found: %d Pilotline-namespace nodes", len(pl))
		if len(other) > 0 {
			fmt.Fprintf(tw, "; companion-spec nodes: %s", strings.Join(other, ", "))
		}
		fmt.Fprintln(tw)
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "configuration (add row, col, group; map keys not found with \"map\": {key: browse path or node id}):\n")
	fmt.Fprintf(w, "  \"endpoints\": [{\"id\": \"E1\", \"url\": %q}],\n  \"machines\": [\n", url)
	for i, m := range ms {
		sep := ","
		if i == len(ms)-1 {
			sep = ""
		}
		fmt.Fprintf(w, "    {\"id\": \"G%02d\", \"kind\": \"grinder\", \"endpoint\": \"E1\", \"node\": %q}%s\n", i+1, m.BrowseName, sep)
	}
	fmt.Fprintln(w, "  ]")
	return nil
}

// isPilotlineKey tells whether a signal lives in Pilotline's namespace.
func isPilotlineKey(k string) bool {
	for _, sg := range MachineSignals(true) {
		if sg.Key == k {
			return slices.ContainsFunc(sg.Path, func(q QName) bool { return q.NS == NsPL && q.Type == 0 })
		}
	}
	return false
}
