package scan

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/engine"
	"github.com/rampart-k8s/rampart/pkg/finding"
	"github.com/rampart-k8s/rampart/pkg/image"
	"github.com/rampart-k8s/rampart/pkg/manifest"
	"github.com/rampart-k8s/rampart/pkg/object"
	"github.com/rampart-k8s/rampart/pkg/suppress"
	"github.com/rampart-k8s/rampart/pkg/vuln"
)

// ImageOptions turn on scanning the images the scanned objects run.
type ImageOptions struct {
	Enabled bool
	// DB is the advisory database (nil: hygiene and inventory only).
	DB *vuln.DB
	// Cache is an OCI layout of images by reference, read before any
	// registry.
	Cache    string
	Platform string
	// Jobs bounds the images read at once (default 4).
	Jobs          int
	IgnoreUnfixed bool
	// VEX statements silence advisories that do not apply.
	VEX *vuln.VEX
}

// imageChecks describe the image findings for reporters (SARIF rules).
var imageChecks = []check.Check{
	{ID: image.CheckEndOfLife, Title: "Image on an end-of-life distribution", Severity: finding.High},
	{ID: image.CheckNotMinimal, Title: "Image is not minimal", Severity: finding.Info},
	{ID: image.CheckPackageManager, Title: "Image has a package manager", Severity: finding.Low},
	{ID: image.CheckRunsAsRoot, Title: "Image runs as root", Severity: finding.Medium},
	{ID: image.CheckSecret, Title: "Credential in the image", Severity: finding.High},
	{ID: image.CheckShell, Title: "Image has a shell", Severity: finding.Low},
	{ID: image.CheckVulnerability, Title: "Image package with a known vulnerability", Severity: finding.High},
}

// use is one container that runs an image.
type use struct {
	obj       *object.Object
	container object.Container
}

// scanImages reads every image the objects run, once each, a bounded
// number at a time, and reports each image's findings on every container
// that runs it, at the line of its image field. An image that cannot be
// read is an input error at that line; the others are still scanned.
func (p *Plan) scanImages(ctx context.Context, objs []*manifest.Object, res *engine.Result) {
	uses := map[string][]use{}
	for _, m := range objs {
		if p.Engine.Target != nil && !p.Engine.Target(m) {
			continue
		}
		o := object.New(m)
		if o.Pod == nil {
			continue
		}
		for _, c := range o.Pod.Containers() {
			if c.Image != "" {
				uses[c.Image] = append(uses[c.Image], use{o, c})
			}
		}
	}
	refs := make([]string, 0, len(uses))
	for r := range uses {
		refs = append(refs, r)
	}
	sort.Strings(refs)
	jobs := p.Images.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	reports := make([]*image.Report, len(refs))
	errs := make([]error, len(refs))
	sem := make(chan struct{}, jobs)
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			reports[i], errs[i] = image.Scan(ctx, image.Source{Ref: ref, Cache: p.Images.Cache, Platform: p.Images.Platform},
				image.ScanOptions{DB: p.Images.DB, IgnoreUnfixed: p.Images.IgnoreUnfixed, VEX: p.Images.VEX})
		}()
	}
	wg.Wait()
	var found []finding.Finding
	byObject := map[*object.Object][]finding.Finding{}
	imaged := map[finding.ObjectRef]bool{} // objects with an image read: the image checks applied
	var order []*object.Object
	for i, ref := range refs {
		for _, u := range uses[ref] {
			field := u.container.Path + ".image"
			var loc *finding.Location
			if u.obj.File != "" {
				l := u.obj.Locate(field)
				loc = &l
			}
			if errs[i] != nil {
				e := manifest.InputError{File: u.obj.File, Message: fmt.Sprintf("image %s could not be read: %v", ref, errs[i])}
				if loc != nil {
					e.Line = loc.Line
				}
				if e.File == "" {
					e.File = u.obj.Kind + "/" + u.obj.Name
				}
				res.Errors = append(res.Errors, e)
				continue
			}
			imaged[finding.ObjectRef{APIVersion: u.obj.APIVersion, Kind: u.obj.Kind, Namespace: u.obj.Namespace, Name: u.obj.Name}] = true
			relocate := func(f finding.Finding) finding.Finding {
				f.Object = finding.ObjectRef{APIVersion: u.obj.APIVersion, Kind: u.obj.Kind, Namespace: u.obj.Namespace, Name: u.obj.Name}
				f.Message = fmt.Sprintf("container %q, image %s: %s", u.container.Name, ref, f.Message)
				f.Field = field + "/" + f.Field
				f.Location = loc
				return f
			}
			for _, f := range reports[i].Findings {
				if f.CheckID == image.CheckRunsAsRoot && setsNonRoot(u) {
					continue // the pod decides the user, not the image
				}
				if byObject[u.obj] == nil {
					order = append(order, u.obj)
				}
				byObject[u.obj] = append(byObject[u.obj], relocate(f))
			}
			for _, s := range reports[i].Silenced {
				res.Suppressed = append(res.Suppressed, suppress.Suppressed{Finding: relocate(s.Finding), Kind: suppress.External, By: "vex", Justification: s.Reason})
			}
		}
	}
	// Annotations, exceptions (with their container) and the baseline, as
	// for the object's own findings.
	for _, o := range order {
		kept, silenced, expired := engine.SuppressObject(o, byObject[o], p.Engine.Suppress)
		found = append(found, kept...)
		res.Suppressed = append(res.Suppressed, silenced...)
		res.Summary.ExpiredExceptions += expired
	}
	res.Findings = append(res.Findings, found...)
	engine.SortFindings(res.Findings)
	checks := append([]check.Check{}, res.Checks...)
	for _, c := range imageChecks {
		c.Category = finding.CategoryImages
		c.Description = c.Title + "."
		c.Remediation = "See the finding's remediation."
		checks = append(checks, c)
	}
	sort.Slice(checks, func(i, j int) bool { return checks[i].ID < checks[j].ID })
	res.Checks = checks
	// The image checks applied to the objects whose images were read; the
	// vulnerability check only with advisories to match against.
	var ids []string
	for _, c := range imageChecks {
		if c.ID == image.CheckVulnerability && p.Images.DB == nil {
			continue
		}
		ids = append(ids, c.ID)
	}
	for i := range res.Objects {
		if imaged[res.Objects[i].Object] {
			// A new slice: objects of one shape share theirs.
			res.Objects[i].Checks = append(append(make([]string, 0, len(res.Objects[i].Checks)+len(ids)), res.Objects[i].Checks...), ids...)
		}
	}
}

// setsNonRoot reports whether the pod or the container makes the process
// run as a user other than root, whatever the image says.
func setsNonRoot(u use) bool {
	nonRoot := func(asUser *int64, nonRoot *bool) (bool, bool) {
		if asUser != nil {
			return *asUser != 0, true
		}
		if nonRoot != nil && *nonRoot {
			return true, true
		}
		return false, false
	}
	if sc := u.container.SecurityContext; sc != nil {
		if v, ok := nonRoot(sc.RunAsUser, sc.RunAsNonRoot); ok {
			return v
		}
	}
	if sc := u.obj.Pod.Spec.SecurityContext; sc != nil {
		if v, ok := nonRoot(sc.RunAsUser, sc.RunAsNonRoot); ok {
			return v
		}
	}
	return false
}
