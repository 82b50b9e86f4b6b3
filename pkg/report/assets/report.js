// Rampart's HTML report: renders the JSON in #rampart-data. No network: the
// page's Content-Security-Policy forbids every request.
(function () {
  'use strict';
  var data = JSON.parse(document.getElementById('rampart-data').textContent);
  var app = document.getElementById('app');
  var C = data.columns;
  var S = data.strings;
  window.rampart = { graphs: {}, data: data };

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    if (attrs) {
      Object.keys(attrs).forEach(function (k) {
        if (k === 'text') e.textContent = attrs[k];
        else if (k === 'cls') e.className = attrs[k];
        else if (k.slice(0, 2) === 'on') e.addEventListener(k.slice(2), attrs[k]);
        else e.setAttribute(k, attrs[k]);
      });
    }
    (kids || []).forEach(function (c) {
      if (c == null) return;
      e.appendChild(typeof c === 'string' ? document.createTextNode(c) : c);
    });
    return e;
  }
  // fileHref links a file path, each segment encoded: a path is data, never
  // a URL scheme (a folder named "javascript:..." stays a file name).
  function fileHref(f, line) {
    var path = f.split('/').map(encodeURIComponent).join('/');
    var base = './';
    if (/^https?:\/\//i.test(data.linkBase || '')) base = data.linkBase.replace(/\/$/, '') + '/';
    else if (f.charAt(0) === '/') base = 'file://';
    return base + (base === 'file://' ? path : path.replace(/^\/+/, '')) + (line ? '#L' + line : '');
  }
  function sevBadge(s) { return el('span', { cls: 'sev ' + s, text: s }); }
  function bar(score) { return el('div', { cls: 'bar', title: score + '%' }, [el('span', { style: 'width:' + score + '%' })]); }
  function card(label, value, id) { return el('div', { cls: 'card', id: id || null }, [el('div', { cls: 'big', text: String(value) }), el('div', { cls: 'label', text: label })]); }

  // Layout: header, tabs, sections.
  var sections = data.graphsOnly ? [] : [['overview', 'Overview'], ['findings', 'Findings']];
  data.graphs.forEach(function (g) { sections.push(['graph-' + g.id, g.title.split(':')[0]]); });
  if (data.exposure) sections.push(['exposure', 'Exposure']);
  (data.compliance || []).forEach(function (c) { sections.push(['compliance-' + c.framework.id, c.framework.name]); });
  if (data.checks.length && !data.graphsOnly) sections.push(['checks', 'Checks']);
  var nav = el('nav');
  var main = el('main');
  app.appendChild(el('header', null, [el('h1', { text: data.title }), el('span', { cls: 'tool', text: data.tool })]));
  app.appendChild(nav);
  app.appendChild(main);
  var shown = {};
  var builders = {};
  function show(id) {
    Array.prototype.forEach.call(main.children, function (s) { s.classList.toggle('active', s.id === id); });
    Array.prototype.forEach.call(nav.children, function (a) { a.classList.toggle('active', a.getAttribute('href') === '#' + id); });
    if (!shown[id] && builders[id]) { shown[id] = true; builders[id](); }
  }
  sections.forEach(function (s) {
    nav.appendChild(el('a', { href: '#' + s[0], id: 'tab-' + s[0], onclick: function (ev) { ev.preventDefault(); show(s[0]); history.replaceState(null, '', '#' + s[0]); } }, [s[1]]));
    main.appendChild(el('section', { id: s[0] }));
  });
  function section(id) { return document.getElementById(id); }

  // Overview: score, counts, namespaces, categories, trend.
  if (!data.graphsOnly) (function () {
    var s = section('overview');
    var sum = data.summary;
    var cards = el('div', { cls: 'cards' }, [
      card('posture score', data.score.score < 0 ? 'n/a' : data.score.score + '%', 'score'),
      card('objects', sum.objects), card('findings', sum.findings, 'finding-count'), card('suppressed', sum.suppressed)]);
    data.severities.slice().reverse().forEach(function (v) { cards.appendChild(card(v, (sum.bySeverity || {})[v] || 0)); });
    s.appendChild(cards);
    s.appendChild(el('p', { cls: 'muted', text: 'The score is the share of evaluated (object, check) pairs without a finding, each weighed by its check\u2019s severity (critical 10, high 6, medium 3, low 1, info 0). Suppressed findings count as passed.' }));
    if (data.errors.length) {
      s.appendChild(el('div', { cls: 'note' }, [el('strong', { text: data.errors.length + ' input error(s): ' }), el('ul', null, data.errors.map(function (e) { return el('li', { text: e }); }))]));
    }
    if (data.notEvaluated && data.notEvaluated.length) {
      s.appendChild(el('div', { cls: 'note' }, [el('strong', { text: 'Not evaluated (the scan could not read them): ' }), data.notEvaluated.map(function (n) { return n.resource + (n.namespace ? ' in ' + n.namespace : ''); }).join(', ')]));
    }
    if (data.trend) {
      var t = data.trend;
      s.appendChild(el('h2', { text: 'Trend against ' + t.baseline }));
      s.appendChild(el('div', { cls: 'cards', id: 'trend' }, [card('in the baseline', t.before), card('fixed since', t.fixed), card('still there', t.still), card('new', t.new)]));
      var changed = t.byCheck.filter(function (c) { return c.before !== c.now; });
      if (changed.length) {
        s.appendChild(table(['check', 'baseline', 'now', 'change'], changed.map(function (c) {
          var d = c.now - c.before;
          return [c.id, num(c.before), num(c.now), num((d > 0 ? '+' : '') + d)];
        })));
      }
    }
    function scoreTable(title, rows) {
      s.appendChild(el('h2', { text: title }));
      s.appendChild(table(['name', 'score', '', 'pairs evaluated', 'failed', 'critical', 'high', 'medium', 'low', 'info'], rows.map(function (r) {
        return [r.name, num(r.score + '%'), bar(r.score), num(r.evaluated), num(r.failed)].concat(['critical', 'high', 'medium', 'low', 'info'].map(function (v) { return num(r.bySeverity[v] || 0); }));
      })));
    }
    scoreTable('Score by namespace', data.namespaces);
    scoreTable('Score by category', data.categories);
  })();
  function num(v) { return el('span', { cls: 'num', text: String(v) }); }
  function table(head, rows, rowAttrs) {
    var tb = el('tbody');
    rows.forEach(function (r, i) {
      tb.appendChild(el('tr', rowAttrs ? rowAttrs(i) : null, r.map(function (c) {
        var isNum = c && c.className === 'num';
        return el('td', { cls: isNum ? 'num' : null }, [c == null ? '' : (typeof c === 'string' ? c : c)]);
      })));
    });
    return el('table', null, [el('thead', null, [el('tr', null, head.map(function (h) { return el('th', { text: h }); }))]), tb]);
  }

  // Findings: search and filters over the rows, a page at a time.
  builders.findings = function () {
    var s = section('findings');
    var rows = data.findings;
    function uniq(col) {
      var seen = {};
      rows.forEach(function (r) { seen[r[col]] = true; });
      return Object.keys(seen).map(Number);
    }
    function select(id, label, values, text) {
      var sel = el('select', { id: id, 'aria-label': label }, [el('option', { value: '', text: 'all ' + label })]);
      values.sort(function (a, b) { return text(a).localeCompare(text(b)); }).forEach(function (v) { sel.appendChild(el('option', { value: String(v), text: text(v) })); });
      return sel;
    }
    var q = el('input', { type: 'search', id: 'search', placeholder: 'search message, object, file, field', 'aria-label': 'search' });
    var fSev = select('filter-severity', 'severities', uniq(C.severity), function (v) { return data.severities[v]; });
    var fCheck = select('filter-check', 'checks', uniq(C.check), function (v) { return data.checks[v].id; });
    var fNS = select('filter-namespace', 'namespaces', uniq(C.namespace), function (v) { return S[v]; });
    var fFile = select('filter-file', 'files', uniq(C.file).filter(function (v) { return v !== 0; }), function (v) { return S[v]; });
    var fSup = el('input', { type: 'checkbox', id: 'filter-suppressed' });
    var count = el('span', { id: 'match-count', cls: 'muted' });
    s.appendChild(el('div', { cls: 'filters' }, [q, fSev, fCheck, fNS, fFile, el('label', null, [fSup, ' show suppressed']), count]));
    var holder = el('div');
    var pager = el('div', { cls: 'pager' });
    s.appendChild(holder);
    s.appendChild(pager);
    var pageSize = 200, page = 0, matched = [];
    function where(r) {
      var f = S[r[C.file]];
      if (!f) return '';
      var text = f + (r[C.line] ? ':' + r[C.line] : '');
      return el('a', { href: fileHref(f, r[C.line]), cls: 'mono', text: text });
    }
    function render() {
      var start = page * pageSize;
      var part = matched.slice(start, start + pageSize);
      var t = table(['severity', 'check', 'object', 'location', 'message'], part.map(function (r) {
        var c = data.checks[r[C.check]];
        return [sevBadge(data.severities[r[C.severity]]), el('a', { href: '#check-' + c.id, cls: 'mono', text: c.id, onclick: function (ev) { ev.preventDefault(); show('checks'); var x = document.getElementById('check-' + c.id); if (x) x.scrollIntoView(); } }),
          el('span', { cls: 'mono', text: S[r[C.object]] }), where(r),
          el('span', null, [S[r[C.message]], r[C.field] ? el('div', { cls: 'muted mono', text: S[r[C.field]] }) : null])];
      }), function (i) { return part[i][C.suppressed] ? { cls: 'suppressed' } : null; });
      t.id = 'findings-table';
      holder.replaceChildren(t);
      count.textContent = matched.length + ' of ' + rows.length + ' findings';
      var pages = Math.max(1, Math.ceil(matched.length / pageSize));
      pager.replaceChildren(
        el('button', { id: 'prev', onclick: function () { if (page > 0) { page--; render(); } } }, ['previous']),
        el('span', { text: 'page ' + (page + 1) + ' of ' + pages }),
        el('button', { id: 'next', onclick: function () { if (page + 1 < pages) { page++; render(); } } }, ['next']));
    }
    function apply() {
      var text = q.value.toLowerCase();
      var sv = fSev.value, ck = fCheck.value, ns = fNS.value, fl = fFile.value, sup = fSup.checked;
      matched = rows.filter(function (r) {
        if (!sup && r[C.suppressed]) return false;
        if (sv !== '' && r[C.severity] !== +sv) return false;
        if (ck !== '' && r[C.check] !== +ck) return false;
        if (ns !== '' && r[C.namespace] !== +ns) return false;
        if (fl !== '' && r[C.file] !== +fl) return false;
        if (text) {
          var hay = (S[r[C.message]] + ' ' + S[r[C.object]] + ' ' + S[r[C.file]] + ' ' + S[r[C.field]] + ' ' + data.checks[r[C.check]].id).toLowerCase();
          if (hay.indexOf(text) < 0) return false;
        }
        return true;
      });
      matched.sort(function (a, b) { return b[C.severity] - a[C.severity]; });
      page = 0;
      render();
    }
    [q].forEach(function (x) { x.addEventListener('input', apply); });
    [fSev, fCheck, fNS, fFile, fSup].forEach(function (x) { x.addEventListener('change', apply); });
    apply();
  };

  // Checks: what each check looks for, why, and how to fix it.
  builders.checks = function () {
    var s = section('checks');
    data.checks.slice().sort(function (a, b) { return a.id.localeCompare(b.id); }).forEach(function (c) {
      var refs = (c.references || []).map(function (r) { return el('li', null, [r.url ? el('a', { href: r.url, rel: 'noreferrer', text: r.title || r.id }) : (r.title || r.id)]); });
      s.appendChild(el('div', { cls: 'check', id: 'check-' + c.id }, [
        el('h3', null, [sevBadge(c.severity), ' ', el('span', { cls: 'mono', text: c.id }), ' \u2014 ' + c.title]),
        el('div', { cls: 'muted', text: 'category: ' + c.category }),
        c.description ? el('p', { text: c.description }) : null,
        c.remediation ? el('p', null, [el('strong', { text: 'Fix: ' }), c.remediation]) : null,
        refs.length ? el('ul', null, refs) : null]));
    });
  };

  // Graphs: Cytoscape with positions computed by rampart (preset layout).
  data.graphs.forEach(function (g) {
    builders['graph-' + g.id] = function () { drawGraph(section('graph-' + g.id), g); };
  });
  var kindColor = { subject: '#3d7cc9', binding: '#7a8699', role: '#7a5fc0', rule: '#9aa5b8', goal: '#8e1b1b', 'class': '#3d7cc9', external: '#e08a1e' };
  function drawGraph(s, g) {
    var t0 = performance.now();
    s.appendChild(el('h2', { text: g.title }));
    s.appendChild(el('p', { cls: 'muted', text: g.about }));
    var hot = g.nodes.filter(function (n) { return n.hot; }).length;
    s.appendChild(el('p', { text: g.nodes.length + ' nodes, ' + g.edges.length + ' edges, ' + hot + ' highlighted. Columns: ' + g.layers.join(' \u2192 ') + '.' }));
    if (data.noGraphLib || typeof cytoscape === 'undefined') {
      s.appendChild(el('div', { cls: 'note', text: 'This build of rampart carries no graph library (build it with make, which runs hack/js-assets.sh): the graph is shown as tables.' }));
      s.appendChild(el('h2', { text: 'Highlighted nodes' }));
      s.appendChild(table(['node', 'kind', 'detail'], g.nodes.filter(function (n) { return n.hot; }).map(function (n) { return [n.label, n.kind, n.detail || '']; })));
      s.appendChild(el('h2', { text: 'Edges' }));
      var lab = {};
      g.nodes.forEach(function (n) { lab[n.id] = n.label; });
      s.appendChild(table(['from', 'to', 'label'], g.edges.map(function (e) { return [lab[e.from], lab[e.to], e.label || '']; })));
      window.rampart.graphs[g.id] = { ms: performance.now() - t0, nodes: g.nodes.length, table: true };
      return;
    }
    var find = el('input', { type: 'search', placeholder: 'find a node', id: 'find-' + g.id });
    var hotOnly = el('input', { type: 'checkbox', id: 'hot-' + g.id });
    var fit = el('button', { text: 'fit' });
    s.appendChild(el('div', { cls: 'graph-tools' }, [find, el('label', null, [hotOnly, ' highlighted only']), fit]));
    var box = el('div', { cls: 'graph', id: 'cy-' + g.id });
    s.appendChild(box);
    var detail = el('div', { cls: 'graph-detail', text: 'Click a node to see its details and neighbours.' });
    s.appendChild(detail);
    var elements = [];
    g.nodes.forEach(function (n) {
      elements.push({ group: 'nodes', data: { id: n.id, label: n.label, kind: n.kind, detail: n.detail || '' }, classes: (n.hot ? 'hot ' : '') + n.kind, position: { x: n.layer * 380, y: n.row * 34 } });
    });
    g.edges.forEach(function (e, i) {
      elements.push({ group: 'edges', data: { id: 'e' + i, source: e.from, target: e.to, label: e.label || '' }, classes: e.hot ? 'hot' : '' });
    });
    var big = g.nodes.length > 600;
    // The elements go in after the style: added in one call they cost a
    // quarter of what the constructor takes for them (2,000 nodes).
    var cy = cytoscape({
      container: box, elements: [], layout: { name: 'preset' },
      textureOnViewport: big, hideEdgesOnViewport: big, pixelRatio: 1, wheelSensitivity: 0.4, maxZoom: 3, minZoom: 0.02,
      style: [
        { selector: 'node', style: { 'background-color': '#888', label: 'data(label)', 'font-size': 11, 'text-valign': 'center', 'text-halign': 'right', 'text-margin-x': 4, width: 12, height: 12, 'min-zoomed-font-size': 8,
          'text-background-color': '#fff', 'text-background-opacity': big ? 0 : 0.85, 'text-background-padding': 1 } },
        { selector: 'node.subject, node.class', style: { 'background-color': '#3d7cc9' } },
        { selector: 'node.binding', style: { 'background-color': '#7a8699' } },
        { selector: 'node.role', style: { 'background-color': '#7a5fc0' } },
        { selector: 'node.rule', style: { 'background-color': '#9aa5b8' } },
        { selector: 'node.goal', style: { 'background-color': '#8e1b1b' } },
        { selector: 'node.external', style: { 'background-color': '#e08a1e', shape: 'diamond' } },
        { selector: 'node.hot', style: { 'background-color': '#d13b2b', 'border-width': 2, 'border-color': '#8e1b1b', color: '#8e1b1b', 'font-weight': 'bold' } },
        { selector: 'edge', style: { width: 1, 'line-color': '#b8c0cc', 'target-arrow-color': '#b8c0cc', 'target-arrow-shape': big ? 'none' : 'triangle', 'curve-style': big ? 'haystack' : 'bezier', 'arrow-scale': 0.7 } },
        { selector: 'edge.hot', style: { width: 2.5, 'line-color': '#d13b2b', 'target-arrow-color': '#d13b2b', 'z-index': 10 } },
        { selector: big ? 'edge.hot:selected' : 'edge.hot', style: { label: 'data(label)', 'font-size': 9, color: '#8e1b1b', 'text-rotation': 'autorotate', 'curve-style': 'bezier', 'target-arrow-shape': 'triangle', 'min-zoomed-font-size': 8 } },
        { selector: '.faded', style: { opacity: 0.12 } },
        { selector: ':selected', style: { 'border-width': 3, 'border-color': '#1f5fbf' } }
      ]
    });
    cy.add(elements);
    var tBuilt = performance.now();
    cy.on('tap', 'node', function (ev) {
      var n = ev.target;
      var ins = n.incomers('node').map(function (x) { return x.data('label'); });
      var outs = n.outgoers('edge').map(function (e) { return e.target().data('label') + (e.data('label') ? ' (' + e.data('label') + ')' : ''); });
      detail.textContent = n.data('label') + ' [' + n.data('kind') + ']' + (n.data('detail') ? '\n' + n.data('detail') : '') +
        (ins.length ? '\nfrom: ' + ins.join(', ') : '') + (outs.length ? '\nto: ' + outs.join(', ') : '');
    });
    find.addEventListener('input', function () {
      var v = find.value.toLowerCase();
      cy.batch(function () {
        cy.elements().removeClass('faded');
        if (!v) return;
        var hit = cy.nodes().filter(function (n) { return n.data('label').toLowerCase().indexOf(v) >= 0; });
        cy.elements().not(hit.closedNeighborhood()).addClass('faded');
      });
    });
    hotOnly.addEventListener('change', function () {
      cy.batch(function () {
        cy.elements().removeClass('faded');
        if (hotOnly.checked) cy.elements().not('.hot').addClass('faded');
      });
    });
    fit.addEventListener('click', function () { cy.fit(undefined, 20); });
    // Fit the view from the positions rampart computed (cy.fit would
    // measure every label first: most of a large graph's first frame).
    var hotNodes = g.nodes.filter(function (n) { return n.hot; });
    var shown = hotNodes.length && hotNodes.length < 200 ? hotNodes : g.nodes;
    var x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    shown.forEach(function (n) {
      var x = n.layer * 380, y = n.row * 34;
      x0 = Math.min(x0, x); y0 = Math.min(y0, y); x1 = Math.max(x1, x); y1 = Math.max(y1, y);
    });
    if (shown.length) {
      x1 += 260; // the last column's labels
      var w = box.clientWidth || 1000, h = box.clientHeight || 600, pad = 30;
      var z = Math.min(1, Math.max(cy.minZoom(), Math.min((w - 2 * pad) / Math.max(1, x1 - x0), (h - 2 * pad) / Math.max(1, y1 - y0))));
      cy.viewport({ zoom: z, pan: { x: (w - (x1 - x0) * z) / 2 - x0 * z, y: (h - (y1 - y0) * z) / 2 - y0 * z } });
    }
    cy.one('render', function () {
      window.rampart.graphs[g.id] = { ms: performance.now() - t0, build: tBuilt - t0, nodes: g.nodes.length, edges: g.edges.length };
    });
    window.rampart.graphs[g.id + ':cy'] = cy;
  }

  // Exposure: every way into the cluster, and in-cluster encryption.
  builders.exposure = function () {
    var s = section('exposure');
    var x = data.exposure;
    s.appendChild(el('h2', { text: x.entries.length + ' entry points into the cluster' }));
    s.appendChild(el('p', { cls: 'muted', text: 'LoadBalancer and NodePort Services, external IPs, host ports and host networking, Ingress rules and Gateway listeners with their routes; what each reaches, and whether the NetworkPolicies let traffic from outside in (for an Ingress or Gateway: from a pod of another namespace, the controller). See docs/exposure.md.' }));
    var open = function (e) { return (e.targets || []).some(function (t) { return t.open; }); };
    s.appendChild(table(['kind', 'address', 'port', 'sources', 'TLS', 'object', 'reaches (NetworkPolicy)'], x.entries.map(function (e) {
      return [e.kind, el('span', { cls: 'mono', text: (e.addresses || []).join(', ') || '\u2013' }), el('span', { cls: 'mono', text: (e.port || 'allocated') + '/' + e.protocol }),
        el('span', { cls: 'mono', text: (e.sources || []).join(', ') }), e.tls,
        el('span', { cls: 'mono', text: e.object.kind + '/' + (e.object.namespace ? e.object.namespace + '/' : '') + e.object.name + (e.host || e.path ? ' ' + (e.host || '*') + (e.path || '') : '') }),
        el('div', null, (e.targets || []).map(function (t) { return el('div', { cls: t.open ? 'mono' : 'muted mono', text: t.workload + ':' + t.port + ' (' + t.networkPolicy + ')' }); }))];
    }), function (i) { return open(x.entries[i]) ? { cls: 'open' } : null; }));
    s.appendChild(el('h2', { text: 'In-cluster encryption: ' + ((x.mesh || []).length ? x.mesh.join(', ') : 'unknown (no mesh or transparent encryption in the input)') }));
    if ((x.workloads || []).length) s.appendChild(table(['workload', 'encryption', 'decided by'], x.workloads.map(function (w) { return [el('span', { cls: 'mono', text: w.workload }), w.encryption, w.decidedBy || '']; })));
  };

  // Compliance: every control with its status and evidence.
  (data.compliance || []).forEach(function (rep) {
    builders['compliance-' + rep.framework.id] = function () {
      var s = section('compliance-' + rep.framework.id);
      var f = rep.framework;
      s.appendChild(el('h2', { text: f.name + ' ' + (f.version || '') }));
      if (f.scope) s.appendChild(el('p', { cls: 'muted', text: f.scope }));
      var cards = el('div', { cls: 'cards' });
      ['pass', 'fail', 'not-evaluated', 'manual', 'not-applicable'].forEach(function (k) { cards.appendChild(card(k, (rep.summary || {})[k] || 0)); });
      s.appendChild(cards);
      s.appendChild(table(['control', 'status', 'title', 'evidence'], rep.controls.map(function (c) {
        var ev = [];
        (c.checks || []).forEach(function (k) {
          ev.push(el('div', { cls: 'mono', text: k.id + ': ' + k.evaluated + ' evaluated, ' + k.failed + ' failed' }));
          (k.evidence || []).slice(0, 20).forEach(function (e) { ev.push(el('div', { cls: 'muted mono', text: '  ' + e })); });
          if ((k.evidence || []).length > 20) ev.push(el('div', { cls: 'muted', text: '  \u2026 ' + (k.evidence.length - 20) + ' more' }));
        });
        if (c.guidance) ev.push(el('div', { text: c.guidance }));
        if (c.reason) ev.push(el('div', { cls: 'muted', text: c.reason }));
        var checks = c.checks || [], done = checks.filter(function (k) { return k.status !== 'not-evaluated'; }).length;
        var part = c.status === 'pass' && done < checks.length ? ' (' + done + ' of ' + checks.length + ' checks evaluated)' : '';
        return [el('span', { cls: 'mono', text: c.id }), el('span', null, [el('span', { cls: 'status ' + c.status, text: c.status }), part ? el('div', { cls: 'muted', text: part }) : null]), c.title, el('div', null, ev)];
      })));
    };
  });

  var first = (location.hash || '').slice(1);
  show(document.getElementById(first) ? first : sections[0][0]);
  window.rampart.ready = true;
})();
