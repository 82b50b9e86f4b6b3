package report

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/rampart-k8s/rampart/pkg/netpol"
	"github.com/rampart-k8s/rampart/pkg/rbac"
)

// Graph is what the HTML report draws: nodes placed in columns (Layer) and
// rows (Row), computed here so that the page only renders (no layout in the
// browser, the same picture every time), and edges. Hot marks what the
// reader should see first: an escalation chain, an isolation gap.
type Graph struct {
	ID    string      `json:"id"`
	Title string      `json:"title"`
	About string      `json:"about"`
	Nodes []GraphNode `json:"nodes"`
	Edges []GraphEdge `json:"edges"`
	// Layers name the columns, left to right.
	Layers []string `json:"layers"`
}

// GraphNode is one node; Kind picks its style.
type GraphNode struct {
	ID     string `json:"id"`
	Label  string `json:"label"`
	Kind   string `json:"kind"`
	Detail string `json:"detail,omitempty"`
	Hot    bool   `json:"hot,omitempty"`
	Layer  int    `json:"layer"`
	Row    int    `json:"row"`
}

// GraphEdge is one directed edge.
type GraphEdge struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Label string `json:"label,omitempty"`
	Hot   bool   `json:"hot,omitempty"`
}

type graphBuilder struct {
	g     Graph
	nodes map[string]int
	edges map[[2]string]int
}

func newGraphBuilder(id, title, about string, layers ...string) *graphBuilder {
	return &graphBuilder{g: Graph{ID: id, Title: title, About: about, Layers: layers, Nodes: []GraphNode{}, Edges: []GraphEdge{}}, nodes: map[string]int{}, edges: map[[2]string]int{}}
}

func (b *graphBuilder) node(id, label, kind string, layer int, detail string) *GraphNode {
	if i, ok := b.nodes[id]; ok {
		return &b.g.Nodes[i]
	}
	b.nodes[id] = len(b.g.Nodes)
	b.g.Nodes = append(b.g.Nodes, GraphNode{ID: id, Label: label, Kind: kind, Layer: layer, Detail: detail})
	return &b.g.Nodes[len(b.g.Nodes)-1]
}

func (b *graphBuilder) edge(from, to, label string, hot bool) {
	k := [2]string{from, to}
	if i, ok := b.edges[k]; ok {
		e := &b.g.Edges[i]
		e.Hot = e.Hot || hot
		if label != "" && !strings.Contains(e.Label, label) {
			if e.Label != "" {
				e.Label += "; "
			}
			e.Label += label
		}
		return
	}
	b.edges[k] = len(b.g.Edges)
	b.g.Edges = append(b.g.Edges, GraphEdge{From: from, To: to, Label: label, Hot: hot})
}

// done orders each column so that a node sits near the nodes it is linked
// to on its left (one barycentre pass, left to right), numbers the rows,
// and sorts nodes and edges for a stable output.
func (b *graphBuilder) done() Graph {
	g := b.g
	pos := map[string]float64{}
	preds := map[string][]string{}
	for _, e := range g.Edges {
		preds[e.To] = append(preds[e.To], e.From)
	}
	layers := 0
	for _, n := range g.Nodes {
		layers = max(layers, n.Layer+1)
	}
	var out []GraphNode
	for l := 0; l < layers; l++ {
		var col []GraphNode
		for _, n := range g.Nodes {
			if n.Layer == l {
				col = append(col, n)
			}
		}
		key := func(n GraphNode) float64 {
			sum, k := 0.0, 0
			for _, p := range preds[n.ID] {
				if v, ok := pos[p]; ok {
					sum += v
					k++
				}
			}
			if k == 0 {
				return -1
			}
			return sum / float64(k)
		}
		keys := make(map[string]float64, len(col))
		for _, n := range col {
			keys[n.ID] = key(n)
		}
		sort.SliceStable(col, func(i, j int) bool {
			a, c := keys[col[i].ID], keys[col[j].ID]
			if a != c {
				return a < c
			}
			return col[i].ID < col[j].ID
		})
		for i := range col {
			col[i].Row = i
			pos[col[i].ID] = float64(i)
		}
		out = append(out, col...)
	}
	g.Nodes = out
	sort.Slice(g.Edges, func(i, j int) bool {
		if g.Edges[i].From != g.Edges[j].From {
			return g.Edges[i].From < g.Edges[j].From
		}
		return g.Edges[i].To < g.Edges[j].To
	})
	return g
}

// RBACGraph draws subjects → bindings → roles → powers (one node per rule
// text, shared by the roles that hold it). The chains of the risky
// subjects (rbac.Graph.Risky) are hot, with their goals as a last column
// and their identity-to-identity moves (creating a pod as another
// ServiceAccount, reading its token) as edges between subjects.
func RBACGraph(g *rbac.Graph) Graph {
	b := newGraphBuilder("rbac", "RBAC: who holds which power",
		"Subjects, the bindings that name them, the roles those bind and the rules of the roles. Red: a chain by which a subject reaches cluster-admin power or Secrets (rampart rbac risky).",
		"subjects", "bindings", "roles", "rules", "goals")
	subject := func(name, kind string) string {
		id := "s:" + name
		b.node(id, name, "subject", 0, kind)
		return id
	}
	for _, bv := range g.Bindings() {
		bid := "b:" + bv.Ref.String()
		b.node(bid, bv.Ref.Kind+" "+nsName(bv.Ref.Namespace, bv.Ref.Name), "binding", 1, "")
		for _, s := range bv.Subjects {
			name := rbac.SubjectName(s, bv.Ref.Namespace)
			if name == "" {
				continue
			}
			b.edge(subject(name, s.Kind), bid, "", false)
		}
		rid := "r:" + bv.Role.String()
		detail := ""
		if !bv.Resolved {
			detail = "not defined in the input"
		}
		b.node(rid, bv.Role.Kind+" "+nsName(bv.Role.Namespace, bv.Role.Name), "role", 2, detail)
		b.edge(bid, rid, "", false)
		for _, r := range bv.Rules {
			text := ruleText(r)
			b.node("p:"+text, text, "rule", 3, "")
			b.edge(rid, "p:"+text, "", false)
		}
	}
	b.risks(g.Risky())
	return b.done()
}

// risks draws the chains of risks, hot: each subject, the bindings and
// roles of its steps, the identities it moves through and its goals.
func (b *graphBuilder) risks(risks []rbac.Risk) {
	subject := func(name string) string {
		id := "s:" + name
		b.node(id, name, "subject", 0, "")
		return id
	}
	for _, risk := range risks {
		for _, p := range risk.Paths {
			goal := "g:" + string(p.Goal)
			b.node(goal, string(p.Goal), "goal", 4, "").Hot = true
			b.g.Nodes[b.nodes[subject(risk.Subject)]].Hot = true
			for i, st := range p.Steps {
				from := subject(st.From)
				b.g.Nodes[b.nodes[from]].Hot = true
				last := i == len(p.Steps)-1
				if st.Grant == nil {
					if last {
						b.edge(from, goal, st.Action, true)
					}
					continue
				}
				bid := "b:" + st.Grant.Binding.String()
				rid := "r:" + st.Grant.Role.String()
				b.node(bid, st.Grant.Binding.Kind+" "+nsName(st.Grant.Binding.Namespace, st.Grant.Binding.Name), "binding", 1, "").Hot = true
				b.node(rid, st.Grant.Role.Kind+" "+nsName(st.Grant.Role.Namespace, st.Grant.Role.Name), "role", 2, "").Hot = true
				b.edge(from, bid, "", true)
				b.edge(bid, rid, "", true)
				if last || st.To == string(p.Goal) {
					b.edge(rid, goal, st.Action, true)
					continue
				}
				// The step yields another identity: draw the move.
				to := subject(st.To)
				b.g.Nodes[b.nodes[to]].Hot = true
				b.edge(from, to, st.Action, true)
			}
		}
	}
}

// RBACPathsGraph draws only the chains of the given risks (rampart rbac
// paths): how one subject reaches cluster-admin power or Secrets.
func RBACPathsGraph(risks []rbac.Risk) Graph {
	b := newGraphBuilder("rbac", "RBAC: escalation paths",
		"Each chain starts at a subject, goes through the bindings and roles that allow each step (and the identities a step yields), and ends at its goal: cluster-admin power or reading Secrets.",
		"subjects", "bindings", "roles", "rules", "goals")
	b.risks(risks)
	return b.done()
}

func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// NetpolGraph draws the classes of workloads the NetworkPolicies cannot
// tell apart (one node each, in a column per namespace of their first
// workload) and the address regions outside the cluster, with the allowed
// connections and their ports. A class no policy isolates for ingress is
// hot (an isolation gap: every pod and address may reach it), and so is an
// edge from outside the cluster.
func NetpolGraph(e *netpol.Engine, ws []netpol.Workload, groups [][]int, exts []netpol.External, cells []netpol.Cell) Graph {
	nsOf := func(g []int) string {
		ns := ""
		for i, w := range g {
			n, _, _ := strings.Cut(ws[w].Name, "/")
			if i > 0 && n != ns {
				return "several namespaces"
			}
			ns = n
		}
		return ns
	}
	nsIndex := map[string]int{}
	var nss []string
	for _, g := range groups {
		ns := nsOf(g)
		if _, ok := nsIndex[ns]; !ok {
			nsIndex[ns] = 0
			nss = append(nss, ns)
		}
	}
	sort.Strings(nss)
	layers := append([]string{"outside the cluster"}, nss...)
	for i, ns := range nss {
		nsIndex[ns] = i + 1
	}
	b := newGraphBuilder("netpol", "NetworkPolicy connectivity: who reaches whom",
		"Each node is a class of workloads that every NetworkPolicy treats alike (its first workload names it), in a column per namespace; the first column holds the address regions outside the cluster the policies' ipBlocks draw. An edge is an allowed connection, labelled with its ports. Red: a class no policy isolates for ingress (an isolation gap), and connections from outside the cluster.",
		layers...)
	probe := netpol.Endpoint{IP: netip.MustParseAddr("192.0.2.1")}
	id := func(i int) string { return fmt.Sprintf("c%d", i+1) }
	for i, g := range groups {
		names := make([]string, len(g))
		for k, w := range g {
			names[k] = ws[w].Name
		}
		sort.Strings(names)
		label := names[0]
		if len(names) > 1 {
			label += fmt.Sprintf(" +%d", len(names)-1)
		}
		n := b.node(id(i), label, "class", nsIndex[nsOf(g)], strings.Join(names, "\n"))
		if len(g) > 0 && e != nil {
			v := e.Decide(probe, netpol.Endpoint{Pod: ws[g[0]].Pod}, netpol.Port{Number: 1, Protocol: "TCP"})
			if !v.Ingress.Isolated {
				n.Hot = true
				n.Detail += "\nnot isolated for ingress: no NetworkPolicy selects it"
			}
		}
	}
	for j, x := range exts {
		b.node(id(len(groups)+j), x.Name, "external", 0, "addresses outside the cluster: "+x.Name)
	}
	var from, to int = -1, -1
	var ports []netpol.PortRange
	flush := func() {
		if from < 0 {
			return
		}
		b.edge(id(from), id(to), portText(ports), from >= len(groups))
		ports = nil
	}
	for _, c := range cells {
		if !c.Allowed {
			continue
		}
		if c.From != from || c.To != to {
			flush()
			from, to = c.From, c.To
		}
		ports = append(ports, c.Port)
	}
	flush()
	return b.done()
}
