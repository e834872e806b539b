package openapi

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// schema is one OpenAPI schema, kept in a form that renders as either
// OpenAPI v2 (swagger) or v3: the two differ only in how a reference is
// written, in defaults (v2 has none, as kube-apiserver prunes them) and in
// the v3 alternatives of IntOrString and Quantity.
type schema struct {
	// ref names the definition this schema refers to; the other fields are
	// then siblings of the reference (a description, a default, patch
	// extensions), which v3 wraps in allOf as upstream does.
	ref         string
	description string
	typ         string
	format      string
	// oneOf lists the v3 alternative types (OpenAPIV3OneOfTypes); v3 then
	// writes oneOf instead of type.
	oneOf      []string
	items      *schema
	additional *schema
	props      []property // sorted by name
	required   []string   // in field order
	// def is the JSON of the default value, "" for none.
	def           string
	patchStrategy string
	patchMergeKey string
	gvks          []groupVersionKind
}

type property struct {
	name   string
	schema *schema
}

type groupVersionKind struct{ Group, Version, Kind string }

// Methods the API types carry that shape their schema.
type (
	swaggerDocer  interface{ SwaggerDoc() map[string]string }
	modelNamer    interface{ OpenAPIModelName() string }
	schemaTyper   interface{ OpenAPISchemaType() []string }
	schemaFormat  interface{ OpenAPISchemaFormat() string }
	v3OneOfTyper  interface{ OpenAPIV3OneOfTypes() []string }
	jsonUnmarshal interface{ UnmarshalJSON([]byte) error }
)

var (
	// time.Time is written inline, as upstream's type table does; every
	// other named struct becomes a definition.
	timeType      = reflect.TypeFor[time.Time]()
	unmarshalType = reflect.TypeFor[jsonUnmarshal]()
)

// typeDocs describe the types that carry no SwaggerDoc: upstream takes
// their descriptions from their Go doc comments.
var typeDocs = map[string]string{
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time":       "Time is a wrapper around time.Time which supports correct marshaling to YAML and JSON.  Wrappers are provided for many of the factory methods that the time package offers.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime":  "MicroTime is version of Time with microsecond level precision.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration":   "Duration is a wrapper around time.Duration which supports correct marshaling to YAML and JSON. In particular, it marshals into strings, which can be used as map keys in json.",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "IntOrString is a type that can hold an int32 or a string.  When used in JSON or YAML marshalling and unmarshalling, it produces or consumes the inner type.  This allows you to have, for example, a JSON field that can accept a name or number.",
	"io.k8s.apimachinery.pkg.api.resource.Quantity": "Quantity is a fixed-point representation of a number. It provides convenient marshaling/unmarshaling in JSON and YAML, in addition to String() and AsInt64() accessors.\n\n" +
		"The serialization format is:\n\n" +
		"``` <quantity>        ::= <signedNumber><suffix>\n\n\t(Note that <suffix> may be empty, from the \"\" case in <decimalSI>.)\n\n" +
		"<digit>           ::= 0 | 1 | ... | 9 <digits>          ::= <digit> | <digit><digits> <number>          ::= <digits> | <digits>.<digits> | <digits>. | .<digits> <sign>            ::= \"+\" | \"-\" <signedNumber>    ::= <number> | <sign><number> <suffix>          ::= <binarySI> | <decimalExponent> | <decimalSI> <binarySI>        ::= Ki | Mi | Gi | Ti | Pi | Ei\n\n\t(International System of units; See: http://physics.nist.gov/cuu/Units/binary.html)\n\n" +
		"<decimalSI>       ::= m | \"\" | k | M | G | T | P | E\n\n\t(Note that 1024 = 1Ki but 1000 = 1k; I didn't choose the capitalization.)\n\n" +
		"<decimalExponent> ::= \"e\" <signedNumber> | \"E\" <signedNumber> ```\n\n" +
		"No matter which of the three exponent forms is used, no quantity may represent a number greater than 2^63-1 in magnitude, nor may it have more than 3 decimal places. Numbers larger or more precise will be capped or rounded up. (E.g.: 0.1m will rounded up to 1m.) This may be extended in the future if we require larger or smaller quantities.\n\n" +
		"When a Quantity is parsed from a string, it will remember the type of suffix it had, and will use the same type again when it is serialized.",
}

// definitions holds every definition built so far, by name, and the Go type
// each came from.
type definitions struct {
	byName map[string]*definition
	byType map[reflect.Type]string
}

type definition struct {
	name   string
	schema *schema
	deps   []string // definitions the schema refers to
}

func newDefinitions() *definitions {
	return &definitions{byName: map[string]*definition{}, byType: map[reflect.Type]string{}}
}

// nameOf is a type's definition name as upstream writes it:
// "io.k8s.api.core.v1.ConfigMap".
func nameOf(t reflect.Type) string {
	if name, ok := own(t, func(v any) (string, bool) {
		n, ok := v.(modelNamer)
		if !ok {
			return "", false
		}
		return n.OpenAPIModelName(), true
	}, func(a, b string) bool { return a == b }); ok && name != "" {
		return name
	}
	path := t.PkgPath()
	if i := strings.Index(path, "/vendor/"); i >= 0 {
		path = path[i+len("/vendor/"):]
	}
	if path == "" {
		return t.Name()
	}
	return restFriendlyName(path + "." + t.Name())
}

// restFriendlyName reverses the domain of a package path and joins the rest
// with dots, as kube-openapi's util.ToRESTFriendlyName.
func restFriendlyName(name string) string {
	parts := strings.Split(name, "/")
	if strings.Contains(parts[0], ".") {
		dom := strings.Split(parts[0], ".")
		slices.Reverse(dom)
		parts[0] = strings.Join(dom, ".")
	}
	return strings.Join(parts, ".")
}

// define makes sure t (a named struct type) has a definition and returns its
// name. Recursive types terminate because the name is reserved before the
// fields are walked.
func (d *definitions) define(t reflect.Type) string {
	if name, ok := d.byType[t]; ok {
		return name
	}
	name := nameOf(t)
	d.byType[t] = name
	if _, ok := d.byName[name]; ok {
		return name
	}
	def := &definition{name: name}
	d.byName[name] = def
	def.schema = d.structSchema(t)
	def.deps = refsOf(def.schema, nil)
	return name
}

// structSchema is the definition of a struct type: either what its
// OpenAPISchemaType/Format methods say, or an object with its fields.
func (d *definitions) structSchema(t reflect.Type) *schema {
	s := &schema{}
	ptr := reflect.New(t).Interface()
	if docs, ok := swaggerDocs(t); ok {
		s.description = docs[""]
	} else {
		s.description = typeDocs[nameOf(t)]
	}
	if types, ok := own(t, func(v any) ([]string, bool) {
		typer, ok := v.(schemaTyper)
		if !ok {
			return nil, false
		}
		return typer.OpenAPISchemaType(), true
	}, slices.Equal); ok && len(types) > 0 {
		s.typ = types[0]
		if f, ok := ptr.(schemaFormat); ok {
			s.format = f.OpenAPISchemaFormat()
		}
		if one, ok := ptr.(v3OneOfTyper); ok {
			s.oneOf = one.OpenAPIV3OneOfTypes()
		}
		return s
	}
	s.typ = "object"
	d.fields(t, s)
	sort.Slice(s.props, func(i, j int) bool { return s.props[i].name < s.props[j].name })
	return s
}

// fields adds t's serialized fields to s, inlining embedded structs the way
// encoding/json does (and upstream's generator does for `json:",inline"`).
func (d *definitions) fields(t reflect.Type, s *schema) {
	docs, _ := swaggerDocs(t)
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				d.fields(ft, s)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		omitEmpty := hasOption(opts, "omitempty") || hasOption(opts, "omitzero")
		var p *schema
		if hasOption(opts, "string") {
			p = &schema{typ: "string"}
		} else {
			p = d.use(f.Type)
			p.def = defaultFor(f.Type, omitEmpty)
		}
		p.description = docs[name]
		p.patchStrategy = f.Tag.Get("patchStrategy")
		p.patchMergeKey = f.Tag.Get("patchMergeKey")
		s.props = append(s.props, property{name: name, schema: p})
		// Upstream marks optional fields with +optional, which only the
		// source has; a field without omitempty is optional there too when
		// it is a pointer, as the API conventions ask of optional fields.
		if !omitEmpty && f.Type.Kind() != reflect.Pointer {
			s.required = append(s.required, name)
		}
	}
}

// own asks *t for what get reads off it, unless t merely inherits the
// method from a field it embeds (and so answers as that field's type does):
// upstream's generator reads a type's own methods only.
func own[R any](t reflect.Type, get func(any) (R, bool), same func(a, b R) bool) (R, bool) {
	r, ok := get(reflect.New(t).Interface())
	if !ok || t.Kind() != reflect.Struct {
		return r, ok
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.Anonymous {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if inherited, ok := get(reflect.New(ft).Interface()); ok && same(r, inherited) {
			var zero R
			return zero, false
		}
	}
	return r, true
}

// swaggerDocs are t's own field docs; generated SwaggerDoc methods return
// one package-level map per type, so an inherited one is the same map.
func swaggerDocs(t reflect.Type) (map[string]string, bool) {
	return own(t, func(v any) (map[string]string, bool) {
		d, ok := v.(swaggerDocer)
		if !ok {
			return nil, false
		}
		return d.SwaggerDoc(), true
	}, func(a, b map[string]string) bool {
		return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
	})
}

func hasOption(opts, want string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == want {
			return true
		}
	}
	return false
}

// use is the schema of a value of type t where it is used: a reference for
// named structs, inline for everything else.
func (d *definitions) use(t reflect.Type) *schema {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == timeType {
			return &schema{typ: "string", format: "date-time"}
		}
		if t.Name() == "" {
			s := &schema{typ: "object"}
			d.fields(t, s)
			sort.Slice(s.props, func(i, j int) bool { return s.props[i].name < s.props[j].name })
			return s
		}
		return &schema{ref: d.define(t)}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &schema{typ: "string", format: "byte"}
		}
		return &schema{typ: "array", items: d.use(t.Elem())}
	case reflect.Map:
		return &schema{typ: "object", additional: d.use(t.Elem())}
	case reflect.Interface:
		if t.NumMethod() == 0 {
			return &schema{typ: "object"}
		}
		return &schema{}
	}
	if t.Name() != "" && t.PkgPath() != "" {
		// A named scalar may still say how it is serialized.
		ptr := reflect.New(t).Interface()
		if typer, ok := ptr.(schemaTyper); ok && len(typer.OpenAPISchemaType()) > 0 {
			s := &schema{typ: typer.OpenAPISchemaType()[0]}
			if f, ok := ptr.(schemaFormat); ok {
				s.format = f.OpenAPISchemaFormat()
			}
			return s
		}
	}
	typ, format := scalar(t.Kind())
	return &schema{typ: typ, format: format}
}

// scalar is upstream's table of Go builtin types to OpenAPI type and format.
func scalar(k reflect.Kind) (typ, format string) {
	switch k {
	case reflect.Bool:
		return "boolean", ""
	case reflect.Int, reflect.Int16, reflect.Int32, reflect.Uint, reflect.Uint16:
		return "integer", "int32"
	case reflect.Int8, reflect.Uint8:
		return "integer", "byte"
	case reflect.Int64, reflect.Uint32, reflect.Uint64:
		return "integer", "int64"
	case reflect.Float32:
		return "number", "float"
	case reflect.Float64:
		return "number", "double"
	case reflect.String:
		return "string", ""
	}
	return "", ""
}

// defaultFor is the default upstream's generator enforces for a field: the
// zero value of a required scalar, {} for a struct, nothing for pointers,
// collections and types that unmarshal themselves.
func defaultFor(t reflect.Type, omitEmpty bool) string {
	if t.Kind() == reflect.Pointer {
		return ""
	}
	if t.Name() != "" && reflect.PointerTo(t).Implements(unmarshalType) {
		return ""
	}
	switch t.Kind() {
	case reflect.Struct:
		if t.NumField() == 1 && t.Field(0).Anonymous {
			return defaultFor(t.Field(0).Type, omitEmpty)
		}
		return "{}"
	case reflect.Map, reflect.Slice, reflect.Array, reflect.Interface:
		return ""
	}
	if omitEmpty {
		return ""
	}
	switch typ, _ := scalar(t.Kind()); typ {
	case "boolean":
		return "false"
	case "integer", "number":
		return "0"
	case "string":
		return `""`
	}
	return ""
}

// refsOf appends the names of the definitions s refers to.
func refsOf(s *schema, out []string) []string {
	if s == nil {
		return out
	}
	if s.ref != "" && !slices.Contains(out, s.ref) {
		out = append(out, s.ref)
	}
	out = refsOf(s.items, out)
	out = refsOf(s.additional, out)
	for _, p := range s.props {
		out = refsOf(p.schema, out)
	}
	return out
}

// closure is every definition reachable from roots, sorted by name.
func (d *definitions) closure(roots []string) []*definition {
	seen := map[string]bool{}
	var out []*definition
	var visit func(string)
	visit = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		def := d.byName[name]
		if def == nil {
			return
		}
		out = append(out, def)
		for _, dep := range def.deps {
			visit(dep)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

// setGVKs records the kinds a definition is served as, sorted as upstream.
func (d *definitions) setGVKs(name string, gvks []groupVersionKind) {
	def := d.byName[name]
	if def == nil {
		return
	}
	for _, g := range gvks {
		if !slices.Contains(def.schema.gvks, g) {
			def.schema.gvks = append(def.schema.gvks, g)
		}
	}
	sort.Slice(def.schema.gvks, func(i, j int) bool {
		a, b := def.schema.gvks[i], def.schema.gvks[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		if a.Version != b.Version {
			return a.Version < b.Version
		}
		return a.Kind < b.Kind
	})
}
