package engine_test

import (
	"testing"

	"k8s.io/pod-security-admission/api"

	"github.com/rampart-k8s/rampart/internal/corpus"
	"github.com/rampart-k8s/rampart/pkg/checks"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/inventory"
	"github.com/rampart-k8s/rampart/pkg/manifest"
)

var lv = api.LevelVersion{Level: api.LevelRestricted, Version: api.LatestVersion()}

func parseAll(b *testing.B, files []corpus.File) []*manifest.Object {
	var objs []*manifest.Object
	for _, f := range files {
		o, errs := manifest.Parse(f.Name, f.Content)
		if len(errs) > 0 {
			b.Fatal(errs)
		}
		objs = append(objs, o...)
	}
	return objs
}

// BenchmarkParse is the loader alone: split, YAML parse, strict decode.
func BenchmarkParse(b *testing.B) {
	files := corpus.Generate(2000, 1)
	b.ReportAllocs()
	for b.Loop() {
		parseAll(b, files)
	}
}

// BenchmarkEngine is the catalog over an already loaded inventory.
func BenchmarkEngine(b *testing.B) {
	files := corpus.Generate(2000, 1)
	inv := inventory.New(parseAll(b, files))
	cs := checks.Builtin()
	b.ReportAllocs()
	for b.Loop() {
		engine.Run(cs, inv, engine.Options{PSS: lv, Workers: 1})
	}
}

// BenchmarkScan is load, inventory and engine on one goroutine.
func BenchmarkScan(b *testing.B) {
	files := corpus.Generate(2000, 1)
	cs := checks.Builtin()
	b.ReportAllocs()
	for b.Loop() {
		inv := inventory.New(parseAll(b, files))
		engine.Run(cs, inv, engine.Options{PSS: lv, Workers: 1})
	}
}

// BenchmarkEngineParallel is the catalog on GOMAXPROCS workers.
func BenchmarkEngineParallel(b *testing.B) {
	files := corpus.Generate(2000, 1)
	inv := inventory.New(parseAll(b, files))
	cs := checks.Builtin()
	b.ReportAllocs()
	for b.Loop() {
		engine.Run(cs, inv, engine.Options{PSS: lv})
	}
}
