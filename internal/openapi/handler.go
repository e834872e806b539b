package openapi

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	openapi_v2 "github.com/google/gnostic-models/openapiv2"
	openapi_v3 "github.com/google/gnostic-models/openapiv3"
	"google.golang.org/protobuf/proto"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/registry"
	miniversion "mini.dev/mini/internal/version"
)

// Media types of the documents, as kube-apiserver names them. Clients ask
// for protobuf under the deprecated name ("@v1.0") and get the new one.
const (
	mediaJSON          = "application/json"
	protoV2            = "com.github.proto-openapi.spec.v2.v1.0+protobuf"
	protoV2Deprecated  = "com.github.proto-openapi.spec.v2@v1.0+protobuf"
	protoV3            = "com.github.proto-openapi.spec.v3.v1.0+protobuf"
	protoV3Deprecated  = "com.github.proto-openapi.spec.v3@v1.0+protobuf"
	v2Path             = "/openapi/v2"
	v3Path             = "/openapi/v3"
	cacheControlHashed = "public, immutable"
)

// Documents builds the OpenAPI documents for a registry once, lazily, and
// serves them.
type Documents struct {
	reg   *registry.Registry
	once  sync.Once
	built *built
}

// built is every document, rendered.
type built struct {
	v2        *document
	v3        map[string]*document // by group version path: "api/v1", "apis/apps/v1"
	discovery *document
	took      time.Duration
}

// document is one rendered document and its protobuf form, made on first
// request.
type document struct {
	json     []byte
	etag     string
	modified time.Time

	protoOnce sync.Once
	proto     []byte
	protoErr  error
	toProto   func([]byte) ([]byte, error)
}

func newDocument(data []byte, modified time.Time, toProto func([]byte) ([]byte, error)) *document {
	sum := sha512.Sum512(data)
	return &document{json: data, etag: strings.ToUpper(hex.EncodeToString(sum[:])), modified: modified, toProto: toProto}
}

func (doc *document) protobuf() ([]byte, error) {
	doc.protoOnce.Do(func() { doc.proto, doc.protoErr = doc.toProto(doc.json) })
	return doc.proto, doc.protoErr
}

func v2Proto(data []byte) ([]byte, error) {
	d, err := openapi_v2.ParseDocument(data)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(d)
}

func v3Proto(data []byte) ([]byte, error) {
	d, err := openapi_v3.ParseDocument(data)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(d)
}

// New returns the documents of reg; nothing is built until first asked for.
func New(reg *registry.Registry) *Documents {
	return &Documents{reg: reg}
}

func (d *Documents) docs() *built {
	d.once.Do(func() { d.built = build(d.reg) })
	return d.built
}

// build renders every document of reg.
func build(reg *registry.Registry) *built {
	start := time.Now()
	defs := newDefinitions()
	for _, t := range []reflect.Type{statusType, deleteOptionsType, patchType, apiResourceListType} {
		defs.define(t)
	}
	gvs := reg.GroupVersions()
	perGV := make([][]*pathItem, len(gvs))
	for i, gv := range gvs {
		var rs []*registry.Resource
		for _, r := range reg.Resources() {
			if r.GVR.GroupVersion() == gv {
				rs = append(rs, r)
			}
		}
		perGV[i] = groupVersionPaths(defs, gv, rs)
	}

	// The kinds each definition is served as, as kube-apiserver's
	// definition namer says from its scheme.
	for _, r := range reg.Resources() {
		gv := r.GVR.GroupVersion()
		defs.setGVKs(nameOf(reflect.TypeOf(r.New()).Elem()), []groupVersionKind{{gv.Group, gv.Version, r.Kind}})
		if r.NewList != nil { // virtual resources (reviews) have no list
			defs.setGVKs(nameOf(reflect.TypeOf(r.NewList()).Elem()), []groupVersionKind{{gv.Group, gv.Version, r.Kind + "List"}})
		}
	}
	var perGroupKinds []groupVersionKind
	for _, gv := range append([]k8sschema.GroupVersion{{Version: "v1"}}, gvs...) {
		perGroupKinds = append(perGroupKinds, groupVersionKind{gv.Group, gv.Version, "DeleteOptions"})
	}
	defs.setGVKs(nameDeleteOptions, perGroupKinds)
	defs.setGVKs(nameStatus, []groupVersionKind{{"", "v1", "Status"}})
	defs.setGVKs(nameAPIResourceList, []groupVersionKind{{"", "v1", "APIResourceList"}})

	// The version as kube-apiserver gives it: "v1.37.2+mini".
	title, ver := "Kubernetes", strings.Split(miniversion.Get().GitVersion, "-")[0]
	now := time.Now()
	out := &built{v3: map[string]*document{}}
	var all []*pathItem
	discovery := v3Discovery{Paths: map[string]v3DiscoveryPath{}}
	for i, gv := range gvs {
		items := perGV[i]
		all = append(all, items...)
		doc := newDocument(documentV3(title, ver, items, defs.closure(pathRefs(items))), now, v3Proto)
		p := gvPath(gv)
		out.v3[p] = doc
		discovery.Paths[p] = v3DiscoveryPath{serverRelativeURL(p, doc.etag)}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].path < all[j].path })
	out.v2 = newDocument(documentV2(title, ver, all, defs.closure(pathRefs(all))), now, v2Proto)
	data, _ := json.Marshal(discovery)
	out.discovery = newDocument(data, now, nil)
	out.took = time.Since(start)
	return out
}

// v3Discovery is /openapi/v3: where each group version's document is.
type v3Discovery struct {
	Paths map[string]v3DiscoveryPath `json:"paths"`
}

type v3DiscoveryPath struct {
	ServerRelativeURL string `json:"serverRelativeURL"`
}

// serverRelativeURL is where a group version's document is, with its hash
// so clients may cache it for good.
func serverRelativeURL(gvPath, etag string) string {
	return (&url.URL{Path: v3Path + "/" + gvPath, RawQuery: url.Values{"hash": {etag}}.Encode()}).String()
}

// ServeHTTP answers GET /openapi/v2 and /openapi/v3 and
// /openapi/v3/<api/v1 | apis/<group>/<version>>.
func (d *Documents) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeStatus(w, http.StatusMethodNotAllowed, metav1.StatusReasonMethodNotAllowed,
			"the server does not allow this method on the requested resource")
		return
	}
	path := r.URL.Path
	switch {
	case path == v2Path:
		doc := d.docs().v2
		serve(w, r, doc, []offer{{"json", mediaJSON}, {protoV2Deprecated, "application/" + protoV2}, {protoV2, "application/" + protoV2}}, false)
	case path == v3Path:
		doc := d.docs().discovery
		w.Header().Set("Etag", strconv.Quote(doc.etag))
		w.Header().Set("Content-Type", mediaJSON)
		http.ServeContent(w, r, v3Path, doc.modified, bytes.NewReader(doc.json))
	case strings.HasPrefix(path, v3Path+"/"):
		doc, ok := d.docs().v3[strings.TrimPrefix(path, v3Path+"/")]
		if !ok {
			notFound(w)
			return
		}
		serve(w, r, doc, []offer{{"json", mediaJSON}, {protoV3, "application/" + protoV3}, {protoV3Deprecated, "application/" + protoV3}}, true)
	default:
		notFound(w)
	}
}

// offer is a subtype of application/ a document is served as, and the
// Content-Type it is served with.
type offer struct{ subtype, contentType string }

// serve writes doc in the first offered form the Accept header takes, with
// kube-apiserver's caching headers: the ETag is the document's hash, and a
// request naming the current hash may cache the answer for good, while one
// naming an old hash is redirected to the current one.
func serve(w http.ResponseWriter, r *http.Request, doc *document, offers []offer, hashed bool) {
	w.Header().Add("Vary", "Accept")
	for _, c := range acceptClauses(r.Header.Get("Accept")) {
		for _, o := range offers {
			if (c.typ != "application" && c.typ != "*") || (c.subtype != o.subtype && c.subtype != "*") {
				continue
			}
			data := doc.json
			if o.contentType != mediaJSON {
				var err error
				if data, err = doc.protobuf(); err != nil {
					writeStatus(w, http.StatusInternalServerError, metav1.StatusReasonInternalError, err.Error())
					return
				}
			}
			if hashed {
				if hash := r.URL.Query().Get("hash"); hash != "" {
					if hash != doc.etag {
						gv := strings.TrimPrefix(r.URL.Path, v3Path+"/")
						http.Redirect(w, r, serverRelativeURL(gv, doc.etag), http.StatusMovedPermanently)
						return
					}
					w.Header().Set("Cache-Control", cacheControlHashed)
					w.Header().Set("Expires", time.Now().AddDate(1, 0, 0).UTC().Format(http.TimeFormat))
				}
			}
			w.Header().Set("Content-Type", o.contentType)
			w.Header().Set("Etag", strconv.Quote(doc.etag))
			http.ServeContent(w, r, "", doc.modified, bytes.NewReader(data))
			return
		}
	}
	writeStatus(w, http.StatusNotAcceptable, metav1.StatusReasonNotAcceptable,
		"only the following media types are accepted: "+strings.Join(contentTypes(offers), ", "))
}

func contentTypes(offers []offer) []string {
	var out []string
	for _, o := range offers {
		if !slices.Contains(out, o.contentType) {
			out = append(out, o.contentType)
		}
	}
	return out
}

type acceptClause struct {
	typ, subtype string
	q            float64
}

// acceptClauses parses an Accept header as goautoneg does, most preferred
// first: by quality, then the more specific. Media types like
// "application/com.github.proto-openapi.spec.v2@v1.0+protobuf" are not
// RFC 2045 tokens, so mime.ParseMediaType will not do.
func acceptClauses(header string) []acceptClause {
	if strings.TrimSpace(header) == "" {
		header = "*/*"
	}
	var out []acceptClause
	for _, part := range strings.Split(header, ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		typ, sub, ok := strings.Cut(strings.TrimSpace(mt), "/")
		if !ok {
			if strings.TrimSpace(mt) != "*" {
				continue
			}
			typ, sub = "*", "*"
		}
		c := acceptClause{typ: strings.TrimSpace(typ), subtype: strings.TrimSpace(sub), q: 1}
		for _, p := range strings.Split(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.TrimSpace(k) == "q" {
				if q, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
					c.q = q
				}
			}
		}
		if c.q > 0 {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.q != b.q {
			return a.q > b.q
		}
		if (a.typ == "*") != (b.typ == "*") {
			return b.typ == "*"
		}
		return (a.subtype == "*") != (b.subtype == "*") && b.subtype == "*"
	})
	return out
}

func notFound(w http.ResponseWriter) {
	writeStatus(w, http.StatusNotFound, metav1.StatusReasonNotFound, "the server could not find the requested resource")
}

// writeStatus answers with a Status, as the rest of the API does.
func writeStatus(w http.ResponseWriter, code int, reason metav1.StatusReason, msg string) {
	w.Header().Set("Content-Type", mediaJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(&metav1.Status{
		TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
		Status:   metav1.StatusFailure, Message: msg, Reason: reason, Code: int32(code),
	})
}
