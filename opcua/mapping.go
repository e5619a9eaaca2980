package opcua

import (
	"fmt"
	"strings"

	gopcua "github.com/gopcua/opcua"
	"github.com/gopcua/opcua/ua"

	"github.com/pilotline/pilotline/mes"
)

// mapping is where the configuration puts one signal of one machine: a
// browse path from the machine object, or a node id.
type mapping struct {
	text string  // as configured
	path []QName // nil for a node id
}

func (m mapping) isNode() bool { return m.path == nil }

// nodeID resolves a mapped node id against the server's namespaces.
func (m mapping) nodeID(c *gopcua.Client) (*ua.NodeID, error) {
	x, err := ua.ParseExpandedNodeID(m.text, c.Namespaces())
	if err != nil {
		return nil, err
	}
	return x.NodeID, nil
}

// parseMapping reads a configured target: a node id ("ns=3;s=Spindle.Speed",
// "nsu=urn:acme;i=1042", "i=2258") or a browse path (see ParseBrowsePath).
func parseMapping(s string) (mapping, error) {
	s = strings.TrimSpace(s)
	for _, p := range []string{"ns=", "nsu=", "i=", "s=", "g=", "b="} {
		if !strings.HasPrefix(s, p) {
			continue
		}
		ns := []string{NsUA}
		if uri, _, ok := strings.Cut(strings.TrimPrefix(s, "nsu="), ";"); ok && p == "nsu=" {
			ns = append(ns, uri)
		}
		if _, err := ua.ParseExpandedNodeID(s, ns); err != nil {
			return mapping{}, fmt.Errorf("node id %q: %v", s, err)
		}
		return mapping{text: s}, nil
	}
	path, err := ParseBrowsePath(s)
	if err != nil {
		return mapping{}, err
	}
	return mapping{text: s, path: path}, nil
}

// ParseBrowsePath reads a browse path from a machine object: steps joined
// by "/", each PREFIX:Name with PREFIX one of DI, MA, MT, PL, or
// {namespace-uri}Name, or a plain Name in namespace 0.
// "MT:Monitoring/{urn:acme:machines}Channel1/MT:FeedOverride" is one.
func ParseBrowsePath(s string) ([]QName, error) {
	var path []QName
	for rest := s; rest != ""; {
		var step string
		if strings.HasPrefix(rest, "{") {
			end := strings.Index(rest, "}")
			if end < 0 {
				return nil, fmt.Errorf("browse path %q: unclosed {", s)
			}
			slash := strings.Index(rest[end:], "/")
			if slash < 0 {
				step, rest = rest, ""
			} else {
				step, rest = rest[:end+slash], rest[end+slash+1:]
			}
		} else if before, after, ok := strings.Cut(rest, "/"); ok {
			step, rest = before, after
		} else {
			step, rest = rest, ""
		}
		q, err := parseStep(step)
		if err != nil {
			return nil, fmt.Errorf("browse path %q: %v", s, err)
		}
		path = append(path, q)
	}
	if len(path) == 0 {
		return nil, fmt.Errorf("browse path %q: empty", s)
	}
	return path, nil
}

func parseStep(step string) (QName, error) {
	if strings.HasPrefix(step, "{") {
		end := strings.Index(step, "}")
		if end < 2 || end == len(step)-1 {
			return QName{}, fmt.Errorf("step %q: want {namespace-uri}Name", step)
		}
		return QName{NS: step[1:end], Name: step[end+1:]}, nil
	}
	if prefix, name, ok := strings.Cut(step, ":"); ok {
		uri, known := map[string]string{"DI": NsDI, "MA": NsMA, "MT": NsMT, "PL": NsPL}[prefix]
		if !known || name == "" {
			return QName{}, fmt.Errorf("step %q: prefix must be DI, MA, MT or PL (or use {namespace-uri}Name)", step)
		}
		return QName{NS: uri, Name: name}, nil
	}
	if step == "" {
		return QName{}, fmt.Errorf("empty step")
	}
	return QName{Name: step}, nil
}

// machineMappings merges a machine's model's map with its own and checks
// every key and target. Errors: EINVALID naming the machine and the key.
func machineMappings(line *mes.LineConfig, m mes.Machine, o *object) (map[int]mapping, error) {
	merged := map[string]string{}
	if md := line.ModelByID(m.Model); md != nil {
		for k, v := range md.Map {
			merged[k] = v
		}
	}
	for k, v := range m.Map {
		merged[k] = v
	}
	if len(merged) == 0 {
		return nil, nil
	}
	out := map[int]mapping{}
	for k, v := range merged {
		i, ok := o.idx[k]
		if !ok {
			return nil, mes.Errorf(mes.EINVALID, "acquisition: machine %s: map: unknown signal key %q (README lists the keys)", m.ID, k)
		}
		mp, err := parseMapping(v)
		if err != nil {
			return nil, mes.Errorf(mes.EINVALID, "acquisition: machine %s: map.%s: %v", m.ID, k, err)
		}
		out[i] = mp
	}
	return out, nil
}
