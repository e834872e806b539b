package openapi

import (
	"strconv"
	"unicode/utf8"
)

// The documents are written straight into one buffer, in a fixed key order:
// no maps to sort and no reflection, so building them stays cheap.

type jsonWriter struct{ b []byte }

type object struct {
	w *jsonWriter
	n int
}

func (w *jsonWriter) object() *object {
	w.b = append(w.b, '{')
	return &object{w: w}
}

func (o *object) key(k string) *jsonWriter {
	if o.n > 0 {
		o.w.b = append(o.w.b, ',')
	}
	o.n++
	o.w.str(k)
	o.w.b = append(o.w.b, ':')
	return o.w
}

func (o *object) str(k, v string) { o.key(k).str(v) }

func (o *object) strIf(k, v string) {
	if v != "" {
		o.str(k, v)
	}
}

func (o *object) raw(k, v string) { o.key(k).raw(v) }

func (o *object) end() { o.w.b = append(o.w.b, '}') }

func (w *jsonWriter) raw(s string) { w.b = append(w.b, s...) }

func (w *jsonWriter) strings(ss []string) {
	w.b = append(w.b, '[')
	for i, s := range ss {
		if i > 0 {
			w.b = append(w.b, ',')
		}
		w.str(s)
	}
	w.b = append(w.b, ']')
}

const hexDigits = "0123456789abcdef"

// str writes a JSON string escaped as encoding/json does.
func (w *jsonWriter) str(s string) {
	b := append(w.b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	w.b = append(b, '"')
}

// specVersion selects the OpenAPI version a document is written in.
type specVersion int

const (
	v2 specVersion = iota
	v3
)

func (v specVersion) refPrefix() string {
	if v == v2 {
		return "#/definitions/"
	}
	return "#/components/schemas/"
}

func (w *jsonWriter) ref(v specVersion, name string) {
	o := w.object()
	o.str("$ref", v.refPrefix()+name)
	o.end()
}

// schema writes s. In v3 a reference with siblings is wrapped in allOf, as
// kube-apiserver does; v2 keeps them beside $ref and drops defaults, as
// kube-apiserver prunes them from v2.
func (w *jsonWriter) schema(v specVersion, s *schema) {
	o := w.object()
	if s.ref != "" {
		hasSiblings := s.description != "" || (v == v3 && s.def != "") || s.patchStrategy != "" || s.patchMergeKey != ""
		if v == v3 && hasSiblings {
			w := o.key("allOf")
			w.b = append(w.b, '[')
			w.ref(v, s.ref)
			w.b = append(w.b, ']')
		} else {
			o.str("$ref", v.refPrefix()+s.ref)
		}
	}
	o.strIf("description", s.description)
	if v == v3 && len(s.oneOf) > 0 {
		o.strIf("format", s.format)
		w := o.key("oneOf")
		w.b = append(w.b, '[')
		for i, typ := range s.oneOf {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			t := w.object()
			t.str("type", typ)
			t.end()
		}
		w.b = append(w.b, ']')
	} else {
		o.strIf("type", s.typ)
		o.strIf("format", s.format)
	}
	if v == v3 && s.def != "" {
		o.raw("default", s.def)
	}
	if s.items != nil {
		o.key("items").schema(v, s.items)
	}
	if s.additional != nil {
		o.key("additionalProperties").schema(v, s.additional)
	}
	if len(s.props) > 0 {
		p := o.key("properties").object()
		for _, prop := range s.props {
			p.key(prop.name).schema(v, prop.schema)
		}
		p.end()
	}
	if len(s.required) > 0 {
		o.key("required").strings(s.required)
	}
	if len(s.gvks) > 0 {
		w := o.key("x-kubernetes-group-version-kind")
		w.b = append(w.b, '[')
		for i, g := range s.gvks {
			if i > 0 {
				w.b = append(w.b, ',')
			}
			w.gvk(g)
		}
		w.b = append(w.b, ']')
	}
	o.strIf("x-kubernetes-patch-merge-key", s.patchMergeKey)
	o.strIf("x-kubernetes-patch-strategy", s.patchStrategy)
	o.end()
}

func (w *jsonWriter) gvk(g groupVersionKind) {
	o := w.object()
	o.str("group", g.Group)
	o.str("kind", g.Kind)
	o.str("version", g.Version)
	o.end()
}

func (w *jsonWriter) param(v specVersion, p param) {
	o := w.object()
	if v == v2 {
		o.raw("uniqueItems", "true")
		o.str("type", p.typ)
		o.strIf("description", p.description)
		o.str("name", p.name)
		o.str("in", p.in)
		if p.required {
			o.raw("required", "true")
		}
		o.end()
		return
	}
	o.str("name", p.name)
	o.str("in", p.in)
	o.strIf("description", p.description)
	if p.required {
		o.raw("required", "true")
	}
	s := o.key("schema").object()
	s.str("type", p.typ)
	s.raw("uniqueItems", "true")
	s.end()
	o.end()
}

func (w *jsonWriter) params(v specVersion, ps []param, body func()) {
	w.b = append(w.b, '[')
	n := 0
	for _, p := range ps {
		if body != nil && p.name > "body" {
			if n > 0 {
				w.b = append(w.b, ',')
			}
			body()
			body = nil
			n++
		}
		if n > 0 {
			w.b = append(w.b, ',')
		}
		w.param(v, p)
		n++
	}
	if body != nil {
		if n > 0 {
			w.b = append(w.b, ',')
		}
		body()
	}
	w.b = append(w.b, ']')
}

func (w *jsonWriter) operation(v specVersion, op *operation) {
	o := w.object()
	if v == v2 {
		o.strIf("description", op.description)
		o.key("consumes").strings(op.consumes)
		o.key("produces").strings(op.produces)
		o.key("schemes").strings([]string{"https"})
		o.key("tags").strings([]string{op.tag})
		o.str("operationId", op.id)
		var body func()
		if op.bodyRef != "" {
			body = func() {
				b := w.object()
				b.str("name", "body")
				b.str("in", "body")
				if op.bodyNeeded {
					b.raw("required", "true")
				}
				b.key("schema").ref(v, op.bodyRef)
				b.end()
			}
		}
		if len(op.params) > 0 || body != nil {
			o.key("parameters").params(v, op.params, body)
		}
	} else {
		o.key("tags").strings([]string{op.tag})
		o.strIf("description", op.description)
		o.str("operationId", op.id)
		if len(op.params) > 0 {
			o.key("parameters").params(v, op.params, nil)
		}
		if op.bodyRef != "" {
			rb := o.key("requestBody").object()
			c := rb.key("content").object()
			for _, ct := range op.consumes {
				m := c.key(ct).object()
				m.key("schema").ref(v, op.bodyRef)
				m.end()
			}
			c.end()
			rb.end()
		}
	}
	rs := o.key("responses").object()
	for _, r := range op.responses {
		ro := rs.key(strconv.Itoa(r.code)).object()
		ro.str("description", r.description)
		if r.ref != "" {
			if v == v2 {
				ro.key("schema").ref(v, r.ref)
			} else {
				c := ro.key("content").object()
				for _, ct := range op.produces {
					m := c.key(ct).object()
					m.key("schema").ref(v, r.ref)
					m.end()
				}
				c.end()
			}
		}
		ro.end()
	}
	u := rs.key("401").object()
	u.str("description", "Unauthorized")
	u.end()
	rs.end()
	if op.action != "" {
		o.str("x-kubernetes-action", op.action)
	}
	if op.gvk != nil {
		g := o.key("x-kubernetes-group-version-kind").object()
		g.str("group", op.gvk.Group)
		g.str("version", op.gvk.Version)
		g.str("kind", op.gvk.Kind)
		g.end()
	}
	o.end()
}

func (w *jsonWriter) paths(v specVersion, items []*pathItem) {
	o := w.object()
	for _, item := range items {
		p := o.key(item.path).object()
		for _, op := range item.ops {
			p.key(op.method).operation(v, op)
		}
		if len(item.params) > 0 {
			p.key("parameters").params(v, item.params, nil)
		}
		p.end()
	}
	o.end()
}

func (w *jsonWriter) definitions(v specVersion, defs []*definition) {
	o := w.object()
	for _, d := range defs {
		o.key(d.name).schema(v, d.schema)
	}
	o.end()
}

const bearerToken = `{"BearerToken":{"type":"apiKey","description":"Bearer Token authentication","name":"authorization","in":"header"}}`

// documentV2 writes the swagger 2.0 document of every group specVersion.
func documentV2(title, ver string, items []*pathItem, defs []*definition) []byte {
	w := &jsonWriter{b: make([]byte, 0, 64<<10)}
	o := w.object()
	o.str("swagger", "2.0")
	info := o.key("info").object()
	info.str("title", title)
	info.str("version", ver)
	info.end()
	o.key("paths").paths(v2, items)
	o.key("definitions").definitions(v2, defs)
	o.raw("securityDefinitions", bearerToken)
	o.raw("security", `[{"BearerToken":[]}]`)
	o.end()
	return w.b
}

// documentV3 writes one group specVersion's OpenAPI 3.0 document.
func documentV3(title, ver string, items []*pathItem, defs []*definition) []byte {
	w := &jsonWriter{b: make([]byte, 0, 64<<10)}
	o := w.object()
	o.str("openapi", "3.0.0")
	info := o.key("info").object()
	info.str("title", title)
	info.str("version", ver)
	info.end()
	o.key("paths").paths(v3, items)
	c := o.key("components").object()
	c.key("schemas").definitions(v3, defs)
	c.raw("securitySchemes", bearerToken)
	c.end()
	o.end()
	return w.b
}
