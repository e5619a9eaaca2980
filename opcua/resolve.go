package opcua

import (
	"context"
	"errors"
	"fmt"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// browseChunk is how many nodes one Browse request asks for. Browse
// responses carry whole reference descriptions (~100 bytes each, tens per
// node) and some servers cannot chunk responses, so this stays small.
const browseChunk = 32

// translateChunk bounds TranslateBrowsePathsToNodeIds requests for the same reason.
const translateChunk = 500

// namespaces maps the model's namespace URIs to the server's indexes.
type namespaces map[string]uint16

func (ns namespaces) qname(q QName) (*ua.QualifiedName, bool) {
	if q.NS == "" || q.NS == NsUA {
		return &ua.QualifiedName{NamespaceIndex: 0, Name: q.Name}, true
	}
	i, ok := ns[q.NS]
	if !ok {
		return nil, false
	}
	return &ua.QualifiedName{NamespaceIndex: i, Name: q.Name}, true
}

func loadNamespaces(c *gopcua.Client) namespaces {
	ns := namespaces{}
	for i, u := range c.Namespaces() {
		ns[u] = uint16(i)
	}
	return ns
}

// child is one forward hierarchical reference found by Browse.
type child struct {
	name     *ua.QualifiedName
	id       *ua.NodeID
	typeDef  *ua.ExpandedNodeID
	class    ua.NodeClass
	isTypeDf bool
}

// resolver turns browse paths into node ids on one session.
type resolver struct {
	c       *gopcua.Client
	ns      namespaces
	lim     limits
	noTrans bool // the server lacks TranslateBrowsePathsToNodeIds: walk with Browse
}

// browse returns the forward references of each node, in order. References
// of any type are asked for (a null reference type), because some servers
// do not expand HierarchicalReferences to its subtypes.
func (r *resolver) browse(ctx context.Context, nodes []*ua.NodeID) ([][]child, error) {
	out := make([][]child, len(nodes))
	step := min(browseChunk, max(r.lim.browse, 1))
	for lo := 0; lo < len(nodes); lo += step {
		hi := min(lo+step, len(nodes))
		req := &ua.BrowseRequest{View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)}}
		for _, n := range nodes[lo:hi] {
			req.NodesToBrowse = append(req.NodesToBrowse, &ua.BrowseDescription{
				NodeID:          n,
				BrowseDirection: ua.BrowseDirectionForward,
				ReferenceTypeID: ua.NewTwoByteNodeID(0),
				IncludeSubtypes: true,
				NodeClassMask:   uint32(ua.NodeClassObject | ua.NodeClassVariable | ua.NodeClassObjectType),
				ResultMask:      uint32(ua.BrowseResultMaskAll),
			})
		}
		res, err := r.c.Browse(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("browse: %w", err)
		}
		if res.ResponseHeader.ServiceResult != ua.StatusOK {
			return nil, fmt.Errorf("browse: %w", res.ResponseHeader.ServiceResult)
		}
		for i, br := range res.Results {
			if lo+i >= len(out) || br == nil || br.StatusCode != ua.StatusOK {
				continue
			}
			refs := br.References
			cp := br.ContinuationPoint
			for len(cp) > 0 {
				nres, err := r.c.BrowseNext(ctx, &ua.BrowseNextRequest{ContinuationPoints: [][]byte{cp}})
				if err != nil || len(nres.Results) == 0 || nres.Results[0].StatusCode != ua.StatusOK {
					break
				}
				refs = append(refs, nres.Results[0].References...)
				cp = nres.Results[0].ContinuationPoint
			}
			for _, ref := range refs {
				if ref == nil || ref.NodeID == nil || ref.BrowseName == nil || !ref.IsForward {
					continue
				}
				out[lo+i] = append(out[lo+i], child{
					name:     ref.BrowseName,
					id:       ref.NodeID.NodeID,
					typeDef:  ref.TypeDefinition,
					class:    ref.NodeClass,
					isTypeDf: ref.ReferenceTypeID != nil && ref.ReferenceTypeID.IntID() == id.HasTypeDefinition && ref.ReferenceTypeID.Namespace() == 0,
				})
			}
		}
	}
	return out, nil
}

// pathReq is one browse path to resolve: from start along path.
type pathReq struct {
	start *ua.NodeID
	path  []QName
}

// resolve returns the node id of every path, nil where the path does not
// exist on the server (a machine may lack optional nodes).
func (r *resolver) resolve(ctx context.Context, reqs []pathReq) ([]*ua.NodeID, error) {
	if !r.noTrans {
		out, err := r.translate(ctx, reqs)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, ua.StatusBadServiceUnsupported) && !errors.Is(err, ua.StatusBadNotImplemented) {
			return nil, err
		}
		r.noTrans = true
	}
	return r.walk(ctx, reqs)
}

func (r *resolver) translate(ctx context.Context, reqs []pathReq) ([]*ua.NodeID, error) {
	out := make([]*ua.NodeID, len(reqs))
	step := min(translateChunk, max(r.lim.translate, 1))
	for lo := 0; lo < len(reqs); lo += step {
		hi := min(lo+step, len(reqs))
		req := &ua.TranslateBrowsePathsToNodeIDsRequest{}
		idx := make([]int, 0, hi-lo)
		for i := lo; i < hi; i++ {
			els := make([]*ua.RelativePathElement, 0, len(reqs[i].path))
			ok := true
			for _, q := range reqs[i].path {
				qn, found := r.ns.qname(q)
				if !found {
					ok = false
					break
				}
				els = append(els, &ua.RelativePathElement{
					ReferenceTypeID: ua.NewNumericNodeID(0, id.HierarchicalReferences),
					IncludeSubtypes: true,
					TargetName:      qn,
				})
			}
			if !ok {
				continue
			}
			req.BrowsePaths = append(req.BrowsePaths, &ua.BrowsePath{StartingNode: reqs[i].start, RelativePath: &ua.RelativePath{Elements: els}})
			idx = append(idx, i)
		}
		if len(req.BrowsePaths) == 0 {
			continue
		}
		var res *ua.TranslateBrowsePathsToNodeIDsResponse
		err := r.c.Send(ctx, req, func(v ua.Response) error {
			switch t := v.(type) {
			case *ua.TranslateBrowsePathsToNodeIDsResponse:
				res = t
				return nil
			case *ua.ServiceFault:
				return t.ResponseHeader.ServiceResult
			}
			return fmt.Errorf("unexpected response %T", v)
		})
		if err != nil {
			return nil, fmt.Errorf("translate browse paths: %w", err)
		}
		if sr := res.ResponseHeader.ServiceResult; sr != ua.StatusOK {
			return nil, fmt.Errorf("translate browse paths: %w", sr)
		}
		for j, pr := range res.Results {
			if j >= len(idx) || pr == nil || pr.StatusCode != ua.StatusOK || len(pr.Targets) == 0 || pr.Targets[0].TargetID == nil {
				continue
			}
			out[idx[j]] = pr.Targets[0].TargetID.NodeID
		}
	}
	return out, nil
}

// trie is the set of paths to walk, merged by common prefix, so that each
// level of the tree costs one batched Browse whatever the number of paths.
type trie struct {
	id       *ua.NodeID
	children map[QName]*trie
	order    []QName
	ends     []int // indexes of the requests ending here
}

func (t *trie) add(path []QName, req int) {
	n := t
	for _, q := range path {
		c, ok := n.children[q]
		if !ok {
			c = &trie{children: map[QName]*trie{}}
			n.children[q] = c
			n.order = append(n.order, q)
		}
		n = c
	}
	n.ends = append(n.ends, req)
}

func (r *resolver) walk(ctx context.Context, reqs []pathReq) ([]*ua.NodeID, error) {
	out := make([]*ua.NodeID, len(reqs))
	roots := map[string]*trie{}
	var frontier []*trie
	for i, rq := range reqs {
		k := rq.start.String()
		t, ok := roots[k]
		if !ok {
			t = &trie{id: rq.start, children: map[QName]*trie{}}
			roots[k] = t
			frontier = append(frontier, t)
		}
		t.add(rq.path, i)
	}
	for len(frontier) > 0 {
		var next, browsed []*trie
		var ids []*ua.NodeID
		for _, t := range frontier {
			for _, i := range t.ends {
				out[i] = t.id
			}
			if len(t.children) > 0 {
				browsed = append(browsed, t)
				ids = append(ids, t.id)
			}
		}
		if len(ids) == 0 {
			break
		}
		kids, err := r.browse(ctx, ids)
		if err != nil {
			return nil, err
		}
		for i, t := range browsed {
			for _, q := range t.order {
				want, ok := r.ns.qname(q)
				if !ok {
					continue
				}
				for _, k := range kids[i] {
					if !k.isTypeDf && k.name.NamespaceIndex == want.NamespaceIndex && k.name.Name == want.Name {
						c := t.children[q]
						c.id = k.id
						next = append(next, c)
						break
					}
				}
			}
		}
		frontier = next
	}
	return out, nil
}

func (e *endpoint) resolve(ctx context.Context, s *session) error {
	s.lim = readLimits(ctx, s.c)
	ns := loadNamespaces(s.c)
	r := &resolver{c: s.c, ns: ns, lim: s.lim, noTrans: e.noTranslate}
	defer func() { e.noTranslate = r.noTrans }()
	tt := newTypes(r, func(i uint16) string { return nsURI(s.c, i) })

	objs := ua.NewNumericNodeID(0, id.ObjectsFolder)
	top, err := r.browse(ctx, []*ua.NodeID{objs})
	if err != nil {
		return err
	}
	var machinesFolder, cellFolder *ua.NodeID
	for _, k := range top[0] {
		if k.name.Name == "Machines" && nsURI(s.c, k.name.NamespaceIndex) == NsMA {
			machinesFolder = k.id
		}
		if k.name.Name == "Cell" && nsURI(s.c, k.name.NamespaceIndex) == NsPL {
			cellFolder = k.id
		}
	}
	var folders []*ua.NodeID
	if machinesFolder != nil {
		folders = append(folders, machinesFolder)
	}
	if cellFolder != nil {
		folders = append(folders, cellFolder)
	}
	kids := map[string][]child{}
	if len(folders) > 0 {
		res, err := r.browse(ctx, folders)
		if err != nil {
			return err
		}
		if machinesFolder != nil {
			kids["machines"] = res[0]
		}
		if cellFolder != nil {
			kids["cell"] = res[len(res)-1]
		}
	}
	var machines []*object
	for _, o := range e.objects {
		if o.isMachine() {
			machines = append(machines, o)
		}
	}
	roots := map[*object]*ua.NodeID{}
	for _, o := range e.objects {
		list := kids["cell"]
		if o.isMachine() {
			list = kids["machines"]
		}
		for _, k := range list {
			if !k.isTypeDf && k.name.Name == o.node {
				roots[o] = k.id
				break
			}
		}
	}
	// A server that names its only machine differently is still read: the
	// machine tool is recognised by its type definition, as long as it is
	// the one the endpoint answered with before.
	if len(machines) == 1 {
		m := machines[0]
		switch {
		case roots[m] != nil:
			e.machine = m.node
		default:
			var typed []child
			for _, k := range kids["machines"] {
				if !k.isTypeDf && tt.isA(ctx, k.typeDef, NsMT, MachineToolTypeID) {
					typed = append(typed, k)
				}
			}
			if len(typed) != 1 {
				break
			}
			if name := typed[0].name.Name; e.machine == "" || e.machine == name {
				roots[m], e.machine = typed[0].id, name
				e.log.Info("machine found by type definition", "machine", m.id, "browse_name", name)
			} else {
				e.log.Error("the endpoint answers with another machine than before: not read", "machine", m.id, "expected", e.machine, "found", name)
			}
		}
	}
	if len(roots) == 0 {
		return fmt.Errorf("none of the %d configured objects found under Objects/MA:Machines or Objects/PL:Cell", len(e.objects))
	}

	for _, o := range e.objects {
		if roots[o] == nil {
			s.notFound = append(s.notFound, o)
			continue
		}
		s.found = append(s.found, o)
	}
	paths, err := concretePaths(ctx, r, tt, roots, s.found)
	if err != nil {
		return err
	}
	var reqs []pathReq
	var owners []readRef
	var notifiers []*object
	for _, o := range s.found {
		for i, mp := range o.mapped {
			if !mp.isNode() {
				paths[o][i] = mp.path
			}
		}
	}
	s.paths = paths
	for _, o := range s.found {
		for i := range o.signals {
			if mp, ok := o.mapped[i]; ok && mp.isNode() {
				continue // a configured node id: no path to resolve
			}
			reqs = append(reqs, pathReq{start: roots[o], path: paths[o][i]})
			owners = append(owners, readRef{o: o, i: i})
		}
	}
	for _, o := range s.found {
		if o.isMachine() {
			reqs = append(reqs, pathReq{start: roots[o], path: messagesPath})
			notifiers = append(notifiers, o)
		}
	}
	nodes, err := r.resolve(ctx, reqs)
	if err != nil {
		return err
	}
	s.messages = map[*object]*ua.NodeID{}
	for i, o := range notifiers {
		if n := nodes[len(owners)+i]; n != nil {
			s.messages[o] = n
		}
	}
	nodes = nodes[:len(owners)]
	for _, o := range s.found {
		for i, mp := range o.mapped {
			if !mp.isNode() {
				continue
			}
			n, err := mp.nodeID(s.c)
			if err != nil {
				e.log.Warn("mapped node id not usable on this server", "machine", o.id, "key", o.signals[i].Key, "node", mp.text, "err", err)
			}
			nodes = append(nodes, n)
			owners = append(owners, readRef{o: o, i: i})
		}
	}
	missing := 0
	for j, n := range nodes {
		ref := owners[j]
		if s.ids[ref.o] == nil {
			s.ids[ref.o] = make([]*ua.NodeID, len(ref.o.signals))
			s.snap[ref.o] = make(snapshot, len(ref.o.signals))
		}
		if n == nil {
			missing++
			continue
		}
		s.ids[ref.o][ref.i] = n
		ref.n = n
		s.items = append(s.items, ref)
	}
	for o := range s.messages {
		if i := o.idx[KeyAlarmLatest]; s.ids[o] != nil && s.ids[o][i] != nil {
			delete(s.messages, o) // PL:Alarms has them, with more detail: no event subscription
		}
	}
	e.log.Info("endpoint connected", "objects", len(s.found), "nodes", len(s.items), "unresolved", missing,
		"browse_walk", r.noTrans, "max_read", s.lim.read)
	e.reportCapabilities(s)
	s.classify(!e.a.wholeReads)
	return nil
}

func nsURI(c *gopcua.Client, i uint16) string {
	ns := c.Namespaces()
	if int(i) < len(ns) {
		return ns[i]
	}
	return ""
}
