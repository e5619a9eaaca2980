package opcua

import (
	"context"
	"errors"
	"fmt"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/id"
	opua "github.com/gopcua/opcua/ua"
)

// browseChunk is how many nodes one Browse request asks for. Browse
// responses carry whole reference descriptions (~100 bytes each, tens per
// node) and some servers cannot chunk responses, so this stays small.
const browseChunk = 32

// translateChunk bounds TranslateBrowsePathsToNodeIds requests for the same reason.
const translateChunk = 500

// namespaces maps the model's namespace URIs to the server's indexes.
type namespaces map[string]uint16

func (ns namespaces) qname(q QName) (*opua.QualifiedName, bool) {
	if q.NS == "" || q.NS == NsUA {
		return &opua.QualifiedName{NamespaceIndex: 0, Name: q.Name}, true
	}
	i, ok := ns[q.NS]
	if !ok {
		return nil, false
	}
	return &opua.QualifiedName{NamespaceIndex: i, Name: q.Name}, true
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
	name     *opua.QualifiedName
	id       *opua.NodeID
	typeDef  *opua.ExpandedNodeID
	class    opua.NodeClass
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
func (r *resolver) browse(ctx context.Context, nodes []*opua.NodeID) ([][]child, error) {
	out := make([][]child, len(nodes))
	step := min(browseChunk, max(r.lim.browse, 1))
	for lo := 0; lo < len(nodes); lo += step {
		hi := min(lo+step, len(nodes))
		req := &opua.BrowseRequest{View: &opua.ViewDescription{ViewID: opua.NewTwoByteNodeID(0)}}
		for _, n := range nodes[lo:hi] {
			req.NodesToBrowse = append(req.NodesToBrowse, &opua.BrowseDescription{
				NodeID:          n,
				BrowseDirection: opua.BrowseDirectionForward,
				ReferenceTypeID: opua.NewTwoByteNodeID(0),
				IncludeSubtypes: true,
				NodeClassMask:   uint32(opua.NodeClassObject | opua.NodeClassVariable | opua.NodeClassObjectType),
				ResultMask:      uint32(opua.BrowseResultMaskAll),
			})
		}
		res, err := r.c.Browse(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("browse: %w", err)
		}
		if res.ResponseHeader.ServiceResult != opua.StatusOK {
			return nil, fmt.Errorf("browse: %w", res.ResponseHeader.ServiceResult)
		}
		for i, br := range res.Results {
			if lo+i >= len(out) || br == nil || br.StatusCode != opua.StatusOK {
				continue
			}
			refs := br.References
			cp := br.ContinuationPoint
			for len(cp) > 0 {
				nres, err := r.c.BrowseNext(ctx, &opua.BrowseNextRequest{ContinuationPoints: [][]byte{cp}})
				if err != nil || len(nres.Results) == 0 || nres.Results[0].StatusCode != opua.StatusOK {
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
	start *opua.NodeID
	path  []QName
}

// resolve returns the node id of every path, nil where the path does not
// exist on the server (a machine may lack optional nodes).
func (r *resolver) resolve(ctx context.Context, reqs []pathReq) ([]*opua.NodeID, error) {
	if !r.noTrans {
		out, err := r.translate(ctx, reqs)
		if err == nil {
			return out, nil
		}
		if !errors.Is(err, opua.StatusBadServiceUnsupported) && !errors.Is(err, opua.StatusBadNotImplemented) {
			return nil, err
		}
		r.noTrans = true
	}
	return r.walk(ctx, reqs)
}

func (r *resolver) translate(ctx context.Context, reqs []pathReq) ([]*opua.NodeID, error) {
	out := make([]*opua.NodeID, len(reqs))
	step := min(translateChunk, max(r.lim.translate, 1))
	for lo := 0; lo < len(reqs); lo += step {
		hi := min(lo+step, len(reqs))
		req := &opua.TranslateBrowsePathsToNodeIDsRequest{}
		idx := make([]int, 0, hi-lo)
		for i := lo; i < hi; i++ {
			els := make([]*opua.RelativePathElement, 0, len(reqs[i].path))
			ok := true
			for _, q := range reqs[i].path {
				qn, found := r.ns.qname(q)
				if !found {
					ok = false
					break
				}
				els = append(els, &opua.RelativePathElement{
					ReferenceTypeID: opua.NewNumericNodeID(0, id.HierarchicalReferences),
					IncludeSubtypes: true,
					TargetName:      qn,
				})
			}
			if !ok {
				continue
			}
			req.BrowsePaths = append(req.BrowsePaths, &opua.BrowsePath{StartingNode: reqs[i].start, RelativePath: &opua.RelativePath{Elements: els}})
			idx = append(idx, i)
		}
		if len(req.BrowsePaths) == 0 {
			continue
		}
		var res *opua.TranslateBrowsePathsToNodeIDsResponse
		err := r.c.Send(ctx, req, func(v opua.Response) error {
			switch t := v.(type) {
			case *opua.TranslateBrowsePathsToNodeIDsResponse:
				res = t
				return nil
			case *opua.ServiceFault:
				return t.ResponseHeader.ServiceResult
			}
			return fmt.Errorf("unexpected response %T", v)
		})
		if err != nil {
			return nil, fmt.Errorf("translate browse paths: %w", err)
		}
		if sr := res.ResponseHeader.ServiceResult; sr != opua.StatusOK {
			return nil, fmt.Errorf("translate browse paths: %w", sr)
		}
		for j, pr := range res.Results {
			if j >= len(idx) || pr == nil || pr.StatusCode != opua.StatusOK || len(pr.Targets) == 0 || pr.Targets[0].TargetID == nil {
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
	id       *opua.NodeID
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

func (r *resolver) walk(ctx context.Context, reqs []pathReq) ([]*opua.NodeID, error) {
	out := make([]*opua.NodeID, len(reqs))
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
		var ids []*opua.NodeID
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
