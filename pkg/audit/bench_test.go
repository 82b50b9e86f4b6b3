package audit

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/rampart-k8s/rampart/internal/corpus"
)

var benchLog = corpus.AuditLog(20000, 1)

// BenchmarkDetect reads the generated log (corpus.AuditMix) and runs the
// built-in rules on each event, on one goroutine: the stateless ones, then
// all of them (with the stateful rules' windows and first sightings).
// Compare with BenchmarkStdlibDecode, a plain encoding/json decode of the
// same stream.
func BenchmarkDetect(b *testing.B) {
	all, err := Builtin().Compile()
	if err != nil {
		b.Fatal(err)
	}
	var stateless []*Rule
	for _, r := range all {
		if r.Stateful == "" {
			stateless = append(stateless, r)
		}
	}
	for _, tc := range []struct {
		name  string
		rules []*Rule
	}{{"stateless", stateless}, {"stateful", all}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(benchLog)))
			b.ReportAllocs()
			events, alerts := 0, 0
			for i := 0; i < b.N; i++ {
				d := NewDetector(tc.rules)
				var r Reader
				var buf []Alert
				_ = r.Read("bench", bytes.NewReader(benchLog), func(e Event) error {
					events++
					buf = d.Detect(e, buf[:0])
					alerts += len(buf)
					return nil
				}, func(e InputError) { b.Fatal(e) })
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
			b.ReportMetric(float64(alerts)/float64(events), "alerts/event")
		})
	}
}

// BenchmarkStdlibDecode decodes the same stream with encoding/json into a
// map per event, and nothing else: the floor a naive detector starts from.
func BenchmarkStdlibDecode(b *testing.B) {
	b.SetBytes(int64(len(benchLog)))
	b.ReportAllocs()
	events := 0
	for i := 0; i < b.N; i++ {
		dec := json.NewDecoder(bytes.NewReader(benchLog))
		for dec.More() {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				b.Fatal(err)
			}
			events++
		}
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
