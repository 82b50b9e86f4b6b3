package netpol

// Cut is one connection a change of policies removes: From may no longer
// connect to To on Port.
type Cut struct {
	From, To string // workload names
	Port     Port
}

// Cuts returns the connections that oldE allows and newE denies between
// the workloads (the same on both sides), on the ports each destination
// listens on (listens, by workload name), for the pairs include accepts, in
// the order of ws; at most limit (0: all). Decisions are made once per pair
// of classes and port, so the work grows with classes, not pods.
func Cuts(oldE, newE *Engine, ws []Workload, listens map[string][]Port, include func(from, to *Workload) bool, limit int) []Cut {
	return NewCutter(oldE, newE, ws).Cuts(listens, include, limit)
}

// Cutter answers Cuts for several include functions with the workloads'
// classes computed once.
type Cutter struct {
	ws   []Workload
	o, n *diffSide
	memo map[cutKey]bool
}

type cutKey struct {
	of, nf, ot, nt int
	p              Port
}

// NewCutter prepares Cuts between the policies of oldE and newE.
func NewCutter(oldE, newE *Engine, ws []Workload) *Cutter {
	return &Cutter{ws: ws, o: newDiffSide(oldE, ws), n: newDiffSide(newE, ws), memo: map[cutKey]bool{}}
}

// Cuts is the package function Cuts with the prepared classes.
func (c *Cutter) Cuts(listens map[string][]Port, include func(from, to *Workload) bool, limit int) []Cut {
	ws, o, n, memo := c.ws, c.o, c.n, c.memo
	type key = cutKey
	var out []Cut
	for ti := range ws {
		to := &ws[ti]
		ports := listens[to.Name]
		if len(ports) == 0 {
			continue
		}
		ot, nt := o.classOf[to.Name], n.classOf[to.Name]
		for fi := range ws {
			from := &ws[fi]
			if !include(from, to) {
				continue
			}
			of, nf := o.classOf[from.Name], n.classOf[from.Name]
			for _, p := range ports {
				k := key{of, nf, ot, nt, p}
				cut, ok := memo[k]
				if !ok {
					cut = o.allowed(of, ot, p) && !n.allowed(nf, nt, p)
					memo[k] = cut
				}
				if cut {
					out = append(out, Cut{From: from.Name, To: to.Name, Port: p})
					if limit > 0 && len(out) >= limit {
						return out
					}
				}
			}
		}
	}
	return out
}
