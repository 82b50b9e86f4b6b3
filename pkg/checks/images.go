package checks

import (
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	corev1 "k8s.io/api/core/v1"

	"github.com/rampart-k8s/rampart/pkg/check"
	"github.com/rampart-k8s/rampart/pkg/object"
)

// imageRef is a container image reference, parsed as the runtime reads it:
// no registry means Docker Hub, no tag means latest.
type imageRef struct {
	registry string // e.g. index.docker.io, registry.example.com:5000
	tag      string // "" when pinned by digest only
	digest   bool
	valid    bool
}

// imageCache remembers parsed references: the same image appears in many
// workloads and four checks read it.
var imageCache sync.Map // string -> imageRef

func parseImage(image string) imageRef {
	if r, ok := imageCache.Load(image); ok {
		return r.(imageRef)
	}
	r := parseImageUncached(image)
	imageCache.Store(image, r)
	return r
}

func parseImageUncached(image string) imageRef {
	r, err := name.ParseReference(image, name.WeakValidation)
	if err != nil {
		return imageRef{}
	}
	ref := imageRef{registry: r.Context().RegistryStr(), valid: true}
	if strings.Contains(image, "@") {
		ref.digest = true
		if before, _, _ := strings.Cut(image, "@"); strings.LastIndex(before, ":") > strings.LastIndex(before, "/") {
			ref.tag = before[strings.LastIndex(before, ":")+1:]
		}
		return ref
	}
	ref.tag = r.Identifier()
	return ref
}

func imageCheck(id string, sev check.Severity, title, why, fix string, refs []check.Ref, bad func(*check.Context, object.Container, imageRef) (string, string)) check.Check {
	return check.Check{
		ID: id, Title: title, Severity: sev, Category: check.CategoryImages,
		Description: why, Remediation: fix, References: refs, Scope: podScope,
		Run: func(ctx *check.Context, o *object.Object) []check.Finding {
			return perContainer(o, func(c object.Container) []check.Finding {
				ref := parseImage(c.Image)
				if !ref.valid {
					return nil
				}
				if field, msg := bad(ctx, c, ref); msg != "" {
					return []check.Finding{check.NewFinding(o, c.Path+"."+field, kindOf(c)+" \""+c.Name+"\" "+msg)}
				}
				return nil
			})
		},
	}
}

// imageTagLatest: an image without a tag or digest, or tagged latest, runs
// whatever was pushed last: deployments are not reproducible and a pushed
// tag changes production silently.
func imageTagLatest() check.Check {
	return imageCheck("image-tag-latest", check.Medium, "Image uses the latest tag",
		"An image without a tag, or tagged latest, runs whatever was pushed last: two replicas can run different code, rollbacks do not roll back, and a compromised registry account changes production silently.",
		"Reference the image by a version tag, or better by digest (image@sha256:...).",
		[]check.Ref{nsaImages, cis("5.5.1", "Configure Image Provenance")},
		func(_ *check.Context, c object.Container, r imageRef) (string, string) {
			if !r.digest && r.tag == "latest" {
				return "image", "uses image " + c.Image + " with the latest tag (or none)"
			}
			return "", ""
		})
}

// imageNotPinned: images referenced by tag only can change under the same
// name; a digest names exactly one image.
func imageNotPinned() check.Check {
	return imageCheck("image-not-pinned", check.Low, "Image not pinned by digest",
		"A tag can be moved to another image at any time; only a digest (sha256) names exactly the image that was reviewed and scanned.",
		"Reference the image as name:tag@sha256:<digest>; tools such as crane digest give the digest of a tag.",
		[]check.Ref{nsaImages},
		func(_ *check.Context, c object.Container, r imageRef) (string, string) {
			if !r.digest && r.tag != "latest" {
				return "image", "uses image " + c.Image + " without a digest"
			}
			return "", ""
		})
}

// imageRegistryNotAllowed: images must come from the registries listed in
// the configuration (images.allowedRegistries). With no list configured
// the check has nothing to enforce and reports nothing.
func imageRegistryNotAllowed() check.Check {
	return imageCheck("image-registry-not-allowed", check.High, "Image from a registry not allowed",
		"Images pulled from registries outside the organisation's allowlist bypass its scanning, signing and retention rules; a typo-squatted public image runs with the workload's credentials.",
		"Mirror the image into an allowed registry and reference it there, or add the registry to images.allowedRegistries in .rampart.yaml.",
		[]check.Ref{nsaImages, cis("5.5.1", "Configure Image Provenance")},
		func(ctx *check.Context, c object.Container, r imageRef) (string, string) {
			if len(ctx.AllowedRegistries) == 0 {
				return "", ""
			}
			for _, a := range ctx.AllowedRegistries {
				if registryMatches(a, r.registry) {
					return "", ""
				}
			}
			return "image", "uses image " + c.Image + " from registry " + r.registry + ", which is not in images.allowedRegistries"
		})
}

// registryMatches compares registries, treating docker.io and
// index.docker.io as one and allowing a "*." prefix for subdomains.
func registryMatches(allowed, registry string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		if s == "docker.io" || s == "registry-1.docker.io" {
			return "index.docker.io"
		}
		return s
	}
	allowed, registry = norm(allowed), norm(registry)
	if suffix, ok := strings.CutPrefix(allowed, "*."); ok {
		return strings.HasSuffix(registry, "."+suffix)
	}
	return allowed == registry
}

// imagePullPolicyNotAlways: for a mutable tag, a node that already has an
// image under that tag runs it without asking the registry, so different
// nodes run different images and a revoked image keeps running.
func imagePullPolicyNotAlways() check.Check {
	return imageCheck("image-pull-policy-not-always", check.Low, "Mutable tag not pulled Always",
		"With a mutable tag and imagePullPolicy IfNotPresent or Never, each node runs whatever it pulled first under that tag: replicas differ, and an image withdrawn from the registry keeps running. Image pull credentials are not rechecked either.",
		"Pin the image by digest, or set imagePullPolicy: Always.",
		[]check.Ref{nsaImages, k8sDocs("Image pull policy", "https://kubernetes.io/docs/concepts/containers/images/#image-pull-policy")},
		func(_ *check.Context, c object.Container, r imageRef) (string, string) {
			if r.digest {
				return "", ""
			}
			policy := c.ImagePullPolicy
			if policy == "" {
				if r.tag == "latest" {
					return "", "" // defaults to Always
				}
				return "image", "uses mutable tag " + r.tag + " and the default imagePullPolicy IfNotPresent"
			}
			if policy != corev1.PullAlways {
				return "imagePullPolicy", "uses mutable tag " + r.tag + " with imagePullPolicy " + string(policy)
			}
			return "", ""
		})
}
