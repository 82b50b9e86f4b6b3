package cis

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"

	"github.com/rampart-k8s/rampart/pkg/finding"
)

// NodeOptions say which node to read and how.
type NodeOptions struct {
	// Root is the node's filesystem (a host mount in the node job); "/" by
	// default.
	Root string
	// Role is "auto" (a control-plane node has a control-plane static pod
	// manifest), "control-plane" or "worker".
	Role string
	// NodeName names the node in results (the host name by default).
	NodeName string
	// KubeletArgs is the kubelet's command line when it is not started by
	// a systemd unit (or to override it).
	KubeletArgs []string
	// Owner, when set, replaces the owner read from the filesystem (tests
	// that cannot chown).
	Owner func(nodePath string) (uid, gid uint32, ok bool)
}

// maxRead bounds what node mode reads of one file.
const maxRead = 8 << 20

// fileInfo is one file a control inspects.
type fileInfo struct {
	Path     string // on the node
	Exists   bool
	Mode     uint32
	IsDir    bool
	UID, GID uint32
	User     string
	Group    string
	// Err is why a file that may exist could not be read (not "missing").
	Err error
}

// instance is one running (or configured) component: its command line,
// environment and configuration file, and where they come from.
type instance struct {
	node string
	comp *Component
	cl   *CommandLine
	env  map[string]string
	// config is the configuration file's root mapping (kubelet, kube-proxy).
	config     *yaml.Node
	configFile string // as shown (node path or object)
	configReal string // the file to edit
	configRoot int    // line of the configuration's root mapping
	// source says where the command line comes from.
	source string
	// file and line of each command item, for locations; real is the file
	// to edit, and itemPath gives the field path of item i in its object.
	file     string
	real     string
	rootLine int
	lines    []int
	itemPath func(i int) string
	listPath string
	object   *finding.ObjectRef
	// missing says why the component could not be read (not evaluated);
	// absent, that it does not run on this node (no manifest).
	missing string
	absent  bool
	exists  bool
	// configMissing says why the configuration file --config names could
	// not be read: its keys are not evaluated (the kubelet would not
	// start), rather than judged by defaults.
	configMissing string
	// layers are configuration drop-ins (the kubelet's --config-dir), read
	// after config, the last one winning.
	layers []configLayer
	// live: read through the API (no file to edit).
	live bool
	// locs and sources, when set, are each command item's location and
	// file (a kubelet flag comes from the line that set its variable);
	// unsetLoc is where a flag that is absent would go.
	locs     []finding.Location
	sources  []string
	unsetLoc *finding.Location
	// readFile reads a node file the flags name; root is the node's.
	readFile func(string) ([]byte, error)
	root     string
}

// configLayer is one configuration file.
type configLayer struct {
	root        *yaml.Node
	shown, real string
}

func (in *instance) realPath(p string) string {
	if in.root == "" {
		return p
	}
	return filepath.Join(in.root, filepath.FromSlash(p))
}

// Node is what node mode read of one node.
type Node struct {
	Name         string
	Root         string
	ControlPlane bool
	Role         string
	instances    map[string]*instance
	files        map[string][]fileInfo
	filesMissing map[string]string
	users        map[uint32]string
	groups       map[uint32]string
	opts         NodeOptions
	unitCache    *[]fileInfo
	// live: read through the API; files are not visible.
	live bool
	// Errors are files that could not be read or parsed.
	Errors []error
}

// ReadNode reads a node's files under opts.Root.
func ReadNode(b *Benchmark, opts NodeOptions) *Node {
	if opts.Root == "" {
		opts.Root = "/"
	}
	if opts.NodeName == "" {
		opts.NodeName, _ = os.Hostname()
	}
	n := &Node{Name: opts.NodeName, Root: opts.Root, opts: opts, instances: map[string]*instance{},
		files: map[string][]fileInfo{}, filesMissing: map[string]string{}}
	n.users = readIDs(n.inRoot("/etc/passwd"))
	n.groups = readIDs(n.inRoot("/etc/group"))
	for _, name := range []string{"apiserver", "controller-manager", "scheduler", "etcd", "proxy"} {
		if c := b.Components[name]; c != nil {
			n.instances[name] = n.readManifest(b, c)
		}
	}
	if c := b.Components["kubelet"]; c != nil {
		n.instances["kubelet"] = n.readKubelet(b, c)
	}
	for _, in := range n.instances {
		in.readFile, in.root = n.readFile, n.Root
	}
	if c := b.Components["proxy"]; c != nil {
		n.readConfigFlag(n.instances["proxy"])
	}
	switch opts.Role {
	case "control-plane":
		n.ControlPlane = true
	case "worker":
	default:
		for _, name := range []string{"apiserver", "controller-manager", "scheduler", "etcd"} {
			if in := n.instances[name]; in != nil && in.exists {
				n.ControlPlane = true
			}
		}
	}
	n.Role = "worker"
	if n.ControlPlane {
		n.Role = "control-plane"
	}
	for key, spec := range b.Files {
		n.files[key], n.filesMissing[key] = n.resolve(spec)
	}
	return n
}

// real is a node path under the root, as shown in locations.
func (n *Node) real(p string) string { return filepath.Join(n.Root, filepath.FromSlash(p)) }

// inRoot is the file a node path names, with symlinks resolved as the node
// would resolve them: an absolute target is under the root, and ".." never
// climbs above it (a link must not send the node job into its own
// container's files).
func (n *Node) inRoot(p string) string {
	parts := strings.Split(path.Clean("/"+filepath.ToSlash(p)), "/")
	resolved := "/"
	hops := 0
	for i := 0; i < len(parts); i++ {
		part := parts[i]
		if part == "" || part == "." {
			continue
		}
		next := path.Join(resolved, part)
		st, err := os.Lstat(n.real(next))
		if err != nil || st.Mode()&fs.ModeSymlink == 0 {
			resolved = next
			continue
		}
		if hops++; hops > 40 {
			return "\x00too many levels of symbolic links" // every open and stat fails on it
		}
		target, err := os.Readlink(n.real(next))
		if err != nil {
			resolved = next
			continue
		}
		target = filepath.ToSlash(target)
		if !strings.HasPrefix(target, "/") {
			target = path.Join(resolved, target)
		}
		rest := append(strings.Split(path.Clean("/"+target), "/"), parts[i+1:]...)
		parts, i, resolved = rest, -1, "/"
	}
	return n.real(resolved)
}

func (n *Node) readFile(p string) ([]byte, error) {
	f, err := os.Open(n.inRoot(p))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s is a directory", p)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxRead+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %v", p, err)
	}
	if len(data) > maxRead {
		return nil, fmt.Errorf("%s: larger than %d bytes", p, maxRead)
	}
	return data, nil
}

// readIDs reads /etc/passwd or /etc/group: name:x:id:...
func readIDs(file string) map[uint32]string {
	m := map[uint32]string{}
	data, err := os.ReadFile(file)
	if err != nil {
		return m
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			if _, dup := m[uint32(id)]; !dup {
				m[uint32(id)] = f[0]
			}
		}
	}
	return m
}

// readManifest reads a control-plane component's static pod manifest.
func (n *Node) readManifest(b *Benchmark, c *Component) *instance {
	in := &instance{node: n.Name, comp: c}
	spec := b.Files[c.Manifest]
	if spec == nil {
		in.missing = "no static pod manifest is known for " + c.Binary
		return in
	}
	for _, p := range spec.Paths {
		data, err := n.readFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		in.exists = true // read or not, it is there: a control-plane node
		if err != nil {
			n.Errors = append(n.Errors, err)
			in.missing = fmt.Sprintf("%s could not be read: %v", p, err)
			return in
		}
		if err := fillFromManifest(in, c, p, n.real(p), data); err != nil {
			n.Errors = append(n.Errors, err)
			in.missing = err.Error()
		}
		return in
	}
	in.missing = fmt.Sprintf("no %s static pod manifest: none of %s exists", c.Binary, strings.Join(spec.Paths, ", "))
	in.absent = true
	return in
}

// fillFromManifest reads the component's container of a static pod
// manifest: its command and args (one command line), its environment.
func fillFromManifest(in *instance, c *Component, shown, real string, data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return fmt.Errorf("%s: %v", shown, err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return fmt.Errorf("%s: not a pod manifest", shown)
	}
	root := doc.Content[0]
	containers := child(child(root, "spec"), "containers")
	if containers == nil || containers.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s:%d: no spec.containers", shown, root.Line)
	}
	if len(containers.Content) == 0 {
		return fmt.Errorf("%s:%d: no containers", shown, containers.Line)
	}
	idx := -1
	for i, ct := range containers.Content {
		if scalar(child(ct, "name")) == c.Binary {
			idx = i
			break
		}
		if cmd := child(ct, "command"); cmd != nil && len(cmd.Content) > 0 && path.Base(cmd.Content[0].Value) == c.Binary {
			idx = i
			break
		}
	}
	if idx < 0 {
		idx = 0
	}
	ct := containers.Content[idx]
	in.file, in.real, in.source, in.rootLine = shown, real, shown, root.Line
	ref := finding.ObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: scalar(child(child(root, "metadata"), "namespace")), Name: scalar(child(child(root, "metadata"), "name"))}
	in.object = &ref
	var items []string
	var paths []string
	for _, list := range []string{"command", "args"} {
		seq := child(ct, list)
		if seq == nil || seq.Kind != yaml.SequenceNode {
			continue
		}
		in.listPath = fmt.Sprintf("spec.containers[%d].%s", idx, list)
		for j, it := range seq.Content {
			items = append(items, it.Value)
			in.lines = append(in.lines, it.Line)
			paths = append(paths, fmt.Sprintf("spec.containers[%d].%s[%d]", idx, list, j))
		}
	}
	if in.listPath == "" {
		// Neither command nor args: flags go to args (a command would
		// replace the image's entrypoint).
		in.listPath = fmt.Sprintf("spec.containers[%d].args", idx)
	}
	env := map[string]string{}
	if list := child(ct, "env"); list != nil {
		for _, e := range list.Content {
			env[scalar(child(e, "name"))] = scalar(child(e, "value"))
		}
	}
	in.setCommand(c, items, paths, env)
	return nil
}

// setCommand gives an instance its command line (items, with the field
// path of each) and environment.
func (in *instance) setCommand(c *Component, items, paths []string, env map[string]string) {
	in.itemPath = func(i int) string {
		if i >= 0 && i < len(paths) {
			return paths[i]
		}
		return in.listPath
	}
	in.cl = ParseCommandLine(items, c)
	in.env = env
}

// readKubelet reads the kubelet's command line (its systemd unit and
// drop-ins, or NodeOptions.KubeletArgs) and its configuration file.
func (n *Node) readKubelet(b *Benchmark, c *Component) *instance {
	in := &instance{node: n.Name, comp: c}
	if len(n.opts.KubeletArgs) > 0 {
		in.cl = ParseCommandLine(n.opts.KubeletArgs, c)
		in.source = "--kubelet-args"
	} else {
		n.readKubeletUnit(b, in)
	}
	if in.cl == nil {
		return in
	}
	n.readConfigFlag(in)
	return in
}

// readKubeletUnit builds the kubelet's command line from its unit as
// systemd does: the unit file of the first folder that has one (/etc before
// /run before /usr/lib and /lib), then every drop-in NAME.d/*.conf of all
// those folders in name order, a higher folder's drop-in hiding a lower
// one's of the same name.
func (n *Node) readKubeletUnit(b *Benchmark, in *instance) {
	spec := b.Files["kubelet-service"]
	if spec == nil {
		in.missing = "no kubelet service file is known"
		return
	}
	files := n.unitFiles(spec)
	u := &unitFile{}
	var read []string
	for _, f := range files {
		data, err := n.readFile(f.Path)
		if err != nil {
			n.Errors = append(n.Errors, err)
			continue
		}
		if err := parseUnit(u, f.Path, string(data)); err != nil {
			n.Errors = append(n.Errors, err)
		}
		read = append(read, f.Path)
	}
	if u.execStart == "" {
		if len(read) == 0 {
			in.missing = fmt.Sprintf("no kubelet unit: none of %s exists (give the command line with --kubelet-args)", strings.Join(spec.Paths, ", "))
		} else {
			in.missing = "no ExecStart in " + strings.Join(read, ", ")
		}
		return
	}
	for _, ef := range u.envFiles {
		data, err := n.readFile(ef.path)
		if err != nil {
			if !ef.optional {
				n.Errors = append(n.Errors, fmt.Errorf("EnvironmentFile %s: %v", ef.path, err))
			}
			continue
		}
		parseEnvFile(u.env, u.origin, ef.path, string(data))
	}
	argv, from := expandExec(u.execStart, u.env, u.origin, srcLine{u.execFile, u.execLine})
	in.cl = ParseCommandLine(argv, in.comp)
	in.source = u.execFile
	in.file = u.execFile
	in.locs = make([]finding.Location, len(from))
	in.sources = make([]string, len(from))
	for i, f := range from {
		in.locs[i] = finding.Location{File: n.real(f.file), Line: f.line, Column: 1}
		in.sources[i] = f.file
	}
	in.unsetLoc = &finding.Location{File: n.real(u.execFile), Line: u.execLine, Column: 1}
}

// unitFiles lists the kubelet's unit file and drop-ins in the order systemd
// reads them (each file once, however the folders are linked).
func (n *Node) unitFiles(spec *FileSpec) []fileInfo {
	if n.unitCache != nil {
		return *n.unitCache
	}
	var out []fileInfo
	var seen []os.FileInfo
	same := func(p string) bool {
		st, err := os.Stat(n.inRoot(p))
		if err != nil {
			return true
		}
		for _, s := range seen {
			if os.SameFile(s, st) {
				return true
			}
		}
		seen = append(seen, st)
		return false
	}
	for _, p := range spec.Paths {
		if fi := n.stat(p); fi.Exists && !fi.IsDir && !same(p) {
			out = append(out, fi)
			break
		}
	}
	byName := map[string]fileInfo{}
	var names []string
	for _, p := range spec.Paths {
		dir := p + ".d"
		ents, err := os.ReadDir(n.inRoot(dir))
		if err != nil {
			continue
		}
		for _, e := range ents {
			name := e.Name()
			if !strings.HasSuffix(name, ".conf") {
				continue
			}
			if _, ok := byName[name]; ok {
				continue
			}
			dp := path.Join(dir, name)
			if same(dp) {
				continue
			}
			byName[name] = n.stat(dp)
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		out = append(out, byName[name])
	}
	n.unitCache = &out
	return out
}

// readConfigFlag reads the configuration file the component's --config
// names (the kubelet's default when it names none is no file at all).
func (n *Node) readConfigFlag(in *instance) {
	if in == nil || in.cl == nil {
		return
	}
	p, _ := in.cl.Lookup("--config", in.comp)
	if p == "" {
		return
	}
	in.configFile, in.configReal = p, n.real(p)
	root, err := n.readConfig(p)
	if err != nil {
		n.Errors = append(n.Errors, fmt.Errorf("%s (--config of %s): %v", p, in.comp.Binary, err))
		in.configMissing = fmt.Sprintf("%s (--config of %s) could not be read: %v", p, in.comp.Binary, err)
		return
	}
	in.config, in.configRoot = root, root.Line
	dir, _ := in.cl.Lookup("--config-dir", in.comp)
	if dir == "" {
		return
	}
	ents, err := os.ReadDir(n.inRoot(dir))
	if err != nil {
		n.Errors = append(n.Errors, fmt.Errorf("%s (--config-dir of %s): %v", dir, in.comp.Binary, err))
		return
	}
	for _, e := range ents { // sorted by name, as the kubelet merges them
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".conf") {
			continue
		}
		dp := path.Join(dir, e.Name())
		lr, err := n.readConfig(dp)
		if err != nil {
			n.Errors = append(n.Errors, fmt.Errorf("%s (--config-dir of %s): %v", dp, in.comp.Binary, err))
			in.configMissing = fmt.Sprintf("%s (--config-dir of %s) could not be read: %v", dp, in.comp.Binary, err)
			continue
		}
		in.layers = append(in.layers, configLayer{root: lr, shown: dp, real: n.real(dp)})
	}
}

// readConfig reads a YAML configuration file's root mapping.
func (n *Node) readConfig(p string) (*yaml.Node, error) {
	data, err := n.readFile(p)
	if err != nil {
		return nil, err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("not a YAML mapping")
	}
	return doc.Content[0], nil
}

// resolve finds the files of a spec: the one a flag names, or the first
// (every, with Each) of its paths that exists; a dir with its contents.
func (n *Node) resolve(spec *FileSpec) (files []fileInfo, missing string) {
	paths := spec.Paths
	if f := spec.Flag; f != nil {
		if in := n.instances[f.Component]; in != nil {
			v := ""
			if in.cl != nil {
				v, _ = in.cl.Lookup(f.Name, in.comp)
			}
			if v == "" && f.Env != "" {
				v = in.env[f.Env]
			}
			if v == "" && f.Config != "" && in.config != nil {
				v, _, _ = configValue(in.config, f.Config)
			}
			if v != "" {
				paths = []string{v}
			}
		}
	}
	if spec.Dropins {
		if files = n.unitFiles(spec); len(files) == 0 {
			return nil, "none of " + strings.Join(paths, ", ") + " (nor a drop-in folder) exists"
		}
		return files, ""
	}
	for _, p := range paths {
		fi := n.stat(p)
		if fi.Err != nil {
			files = append(files, fi)
			continue
		}
		if !fi.Exists {
			continue
		}
		if fi.IsDir && (spec.Recursive || spec.Kind == "dir") {
			if spec.Match == "" {
				files = append(files, fi)
			}
			if spec.Recursive {
				files = append(files, n.walk(p, spec)...)
			}
		} else {
			files = append(files, fi)
		}
		if !spec.Each {
			break
		}
	}
	if len(files) == 0 {
		return nil, "none of " + strings.Join(paths, ", ") + " exists"
	}
	return files, ""
}

// walk lists the files under a node dir (bounded), sorted.
func (n *Node) walk(dir string, spec *FileSpec) []fileInfo {
	var out []fileInfo
	root := n.inRoot(dir)
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			rel, _ := filepath.Rel(root, p)
			out = append(out, fileInfo{Path: path.Join(dir, filepath.ToSlash(rel)), Err: err})
			return nil
		}
		if p == root {
			return nil
		}
		if len(out) >= 10000 {
			return filepath.SkipAll
		}
		rel, _ := filepath.Rel(root, p)
		np := path.Join(dir, filepath.ToSlash(rel))
		if d.IsDir() {
			if spec.Match == "" {
				out = append(out, n.stat(np))
			}
			return nil
		}
		if spec.matchName(d.Name()) {
			out = append(out, n.stat(np))
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// stat reads a node file's mode and owner (not following a final symlink,
// as stat(1) on the benchmark's paths would: it follows; so do we).
func (n *Node) stat(p string) fileInfo {
	fi := fileInfo{Path: p}
	st, err := os.Stat(n.inRoot(p))
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			fi.Err = err
		}
		return fi
	}
	fi.Exists, fi.IsDir = true, st.IsDir()
	fi.Mode = uint32(st.Mode().Perm())
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		fi.UID, fi.GID = sys.Uid, sys.Gid
	}
	if n.opts.Owner != nil {
		if u, g, ok := n.opts.Owner(p); ok {
			fi.UID, fi.GID = u, g
		}
	}
	fi.User, fi.Group = idName(n.users, fi.UID), idName(n.groups, fi.GID)
	return fi
}

func idName(m map[uint32]string, id uint32) string {
	if s, ok := m[id]; ok {
		return s
	}
	if id == 0 {
		return "root" // id 0 is root whatever /etc/passwd says
	}
	return strconv.FormatUint(uint64(id), 10)
}

// child is the value of key in a mapping node.
func child(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

func scalar(n *yaml.Node) string {
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// configValue reads a dotted key of a configuration: a scalar's value, a
// sequence's items joined with commas; the line of the key.
func configValue(root *yaml.Node, key string) (value string, line int, ok bool) {
	n := root
	for _, part := range strings.Split(key, ".") {
		if n == nil || n.Kind != yaml.MappingNode {
			return "", 0, false
		}
		found := false
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == part {
				line = n.Content[i].Line
				n = n.Content[i+1]
				found = true
				break
			}
		}
		if !found {
			return "", 0, false
		}
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "", 0, false
		}
		return n.Value, line, true
	case yaml.SequenceNode:
		var vs []string
		for _, c := range n.Content {
			vs = append(vs, c.Value)
		}
		return strings.Join(vs, ","), line, true
	case yaml.MappingNode:
		var vs []string
		for i := 0; i+1 < len(n.Content); i += 2 {
			vs = append(vs, n.Content[i].Value+"="+n.Content[i+1].Value)
		}
		return strings.Join(vs, ","), line, true
	}
	return "", 0, false
}
