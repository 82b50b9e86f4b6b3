package netpol

// Cut is one connection a change of policies removes: From may no longer
// connect to To on Port.
type Cut struct {
	From, To string // workload names
	Port     Port
}

// Cutter answers which connections a change of policies removes, with the
// workloads' classes on both sides computed once.
type Cutter struct {
	ws     []Workload
	o, n   *diffSide
	oc, nc []int // class of each workload on each side
	memo   map[cutKey]bool
}

type cutKey struct {
	of, nf, ot, nt int
	p              Port
}

// NewCutter prepares Cuts between the policies of oldE and newE for the
// same workloads.
func NewCutter(oldE, newE *Engine, ws []Workload) *Cutter {
	c := &Cutter{ws: ws, memo: map[cutKey]bool{}, oc: make([]int, len(ws)), nc: make([]int, len(ws))}
	done := make(chan struct{})
	go func() { // the two sides' classes at once
		c.o = newDiffSide(oldE, ws)
		close(done)
	}()
	c.n = newDiffSide(newE, ws)
	<-done
	for i, w := range ws {
		c.oc[i], c.nc[i] = c.o.classOf[w.Name], c.n.classOf[w.Name]
	}
	return c
}

// Copy returns a Cutter that shares the classes and keeps decisions of its
// own: one a goroutine.
func (c *Cutter) Copy() *Cutter {
	d := *c
	d.memo = map[cutKey]bool{}
	return &d
}

// Cuts returns the connections that the old policies allow and the new
// ones deny between workloads of which at least one is in namespace ns, on
// the ports each destination listens on (listens, by workload name), in
// the order of the workloads; at most limit (0: all). Decisions are made
// once per pair of classes and port, so the work grows with classes.
func (c *Cutter) Cuts(listens map[string][]Port, ns string, limit int) []Cut {
	var in []int
	for i, w := range c.ws {
		if w.Pod.Namespace == ns {
			in = append(in, i)
		}
	}
	var out []Cut
	for ti := range c.ws {
		to := &c.ws[ti]
		ports := listens[to.Name]
		if len(ports) == 0 {
			continue
		}
		froms := in // a destination elsewhere: sources in ns only
		if to.Pod.Namespace == ns {
			froms = nil // every source
		}
		n := len(froms)
		if froms == nil {
			n = len(c.ws)
		}
		for k := 0; k < n; k++ {
			fi := k
			if froms != nil {
				fi = froms[k]
			}
			for _, p := range ports {
				key := cutKey{c.oc[fi], c.nc[fi], c.oc[ti], c.nc[ti], p}
				cut, ok := c.memo[key]
				if !ok {
					cut = c.o.allowed(key.of, key.ot, p) && !c.n.allowed(key.nf, key.nt, p)
					c.memo[key] = cut
				}
				if cut {
					out = append(out, Cut{From: c.ws[fi].Name, To: to.Name, Port: p})
					if limit > 0 && len(out) >= limit {
						return out
					}
				}
			}
		}
	}
	return out
}
