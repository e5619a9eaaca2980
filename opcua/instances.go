package opcua

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gopcua/opcua/id"
	"github.com/gopcua/opcua/ua"
)

// maxTypeDepth bounds the walk up a type hierarchy: vendor subtypes are a
// level or two below the standard type, never dozens.
const maxTypeDepth = 8

// types answers "is this type definition the MT type T or a subtype of it"
// for one session, browsing the server's type hierarchy (inverse HasSubtype)
// at most once per type.
type types struct {
	r      *resolver
	ns     func(uint16) string
	parent map[string]*ua.NodeID // type → its supertype (nil: none found)
}

func newTypes(r *resolver, nsURI func(uint16) string) *types {
	return &types{r: r, ns: nsURI, parent: map[string]*ua.NodeID{}}
}

// isA tells whether td is the type wantID of namespace wantNS or one of its
// subtypes.
func (t *types) isA(ctx context.Context, td *ua.ExpandedNodeID, wantNS string, wantID uint32) bool {
	if td == nil || td.NodeID == nil {
		return false
	}
	n := td.NodeID
	uri := td.NamespaceURI
	if uri == "" {
		uri = t.ns(n.Namespace())
	}
	for range maxTypeDepth {
		if n.Type() == ua.NodeIDTypeFourByte || n.Type() == ua.NodeIDTypeTwoByte || n.Type() == ua.NodeIDTypeNumeric {
			if uri == wantNS && n.IntID() == wantID {
				return true
			}
		}
		if n.Namespace() == 0 {
			return false // a standard type is never below a companion-spec one
		}
		p, err := t.supertype(ctx, n)
		if err != nil || p == nil {
			return false
		}
		n, uri = p, t.ns(p.Namespace())
	}
	return false
}

func (t *types) supertype(ctx context.Context, n *ua.NodeID) (*ua.NodeID, error) {
	key := n.String()
	if p, ok := t.parent[key]; ok {
		return p, nil
	}
	res, err := t.r.c.Browse(ctx, &ua.BrowseRequest{
		View: &ua.ViewDescription{ViewID: ua.NewTwoByteNodeID(0)},
		NodesToBrowse: []*ua.BrowseDescription{{
			NodeID:          n,
			BrowseDirection: ua.BrowseDirectionInverse,
			ReferenceTypeID: ua.NewNumericNodeID(0, id.HasSubtype),
			IncludeSubtypes: false,
			NodeClassMask:   uint32(ua.NodeClassObjectType | ua.NodeClassVariableType),
			ResultMask:      uint32(ua.BrowseResultMaskAll),
		}},
	})
	if err != nil {
		return nil, fmt.Errorf("browse supertype of %s: %w", key, err)
	}
	var p *ua.NodeID
	if len(res.Results) == 1 && res.Results[0] != nil {
		for _, ref := range res.Results[0].References {
			if ref != nil && ref.NodeID != nil && !ref.IsForward {
				p = ref.NodeID.NodeID
				break
			}
		}
	}
	t.parent[key] = p
	return p, nil
}

// typedStep is one instance step (QName.Type set) of one object's paths.
type typedStep struct {
	o      *object
	parent []QName // the path to the instance's parent, concrete
	step   QName
}

func (ts typedStep) key() string {
	k := ts.o.id
	for _, q := range ts.parent {
		k += "/" + q.NS + ":" + q.Name
	}
	return k + "/" + strconv.FormatUint(uint64(ts.step.Type), 10) + "#" + strconv.Itoa(ts.step.Index)
}

// concretePaths returns every signal path of the found objects with its
// instance steps replaced by the browse names this server gives them: the
// Index-th child of the step's type (or a subtype), else the step's own
// name. A path has at most one instance step.
func concretePaths(ctx context.Context, r *resolver, tt *types, roots map[*object]*ua.NodeID, objs []*object) (map[*object][][]QName, error) {
	var steps []typedStep
	seen := map[string]int{}
	where := map[*object][]int{} // per signal: index into steps, -1 none
	for _, o := range objs {
		idx := make([]int, len(o.signals))
		for i, sg := range o.signals {
			idx[i] = -1
			for j, q := range sg.Path {
				if q.Type == 0 {
					continue
				}
				ts := typedStep{o: o, parent: sg.Path[:j], step: q}
				k := ts.key()
				if n, ok := seen[k]; ok {
					idx[i] = n
				} else {
					seen[k], idx[i] = len(steps), len(steps)
					steps = append(steps, ts)
				}
				break
			}
		}
		where[o] = idx
	}
	names := make([]QName, len(steps))
	if len(steps) > 0 {
		reqs := make([]pathReq, len(steps))
		for i, ts := range steps {
			reqs[i] = pathReq{start: roots[ts.o], path: ts.parent}
		}
		parents, err := r.resolve(ctx, reqs)
		if err != nil {
			return nil, err
		}
		var browseIDs []*ua.NodeID
		at := make([]int, len(steps))
		for i, p := range parents {
			at[i] = -1
			if p != nil {
				at[i] = len(browseIDs)
				browseIDs = append(browseIDs, p)
			}
		}
		kids, err := r.browse(ctx, browseIDs)
		if err != nil {
			return nil, err
		}
		for i, ts := range steps {
			names[i] = QName{NS: ts.step.NS, Name: ts.step.Name}
			if at[i] < 0 {
				continue
			}
			n := 0
			for _, k := range kids[at[i]] {
				if k.isTypeDf || k.class != ua.NodeClassObject || !tt.isA(ctx, k.typeDef, NsMT, ts.step.Type) {
					continue
				}
				if n == ts.step.Index {
					names[i] = QName{NS: tt.ns(k.name.NamespaceIndex), Name: k.name.Name}
					break
				}
				n++
			}
		}
	}
	out := make(map[*object][][]QName, len(objs))
	for _, o := range objs {
		paths := make([][]QName, len(o.signals))
		for i, sg := range o.signals {
			paths[i] = sg.Path
			if n := where[o][i]; n >= 0 {
				p := make([]QName, len(sg.Path))
				for j, q := range sg.Path {
					if q.Type != 0 {
						q = names[n]
					}
					p[j] = q
				}
				paths[i] = p
			}
		}
		out[o] = paths
	}
	return out, nil
}
