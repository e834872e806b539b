package openapi

import (
	"reflect"
	"slices"
	"sort"
	"strings"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"

	"mini.dev/mini/internal/registry"
)

// Media types, in the order kube-apiserver lists them.
var (
	mediaTypes       = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	streamMediaTypes = []string{"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"}
	allMediaTypes    = append(slices.Clip(mediaTypes), streamMediaTypes...)
	// patchTypes are the bodies PATCH consumes. kubectl apply computes a
	// strategic merge patch only when the PATCH operation lists it.
	patchTypes = []string{
		"application/json-patch+json",
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
		"application/apply-patch+yaml",
	}
	anyType = []string{"*/*"}
)

const prettyDoc = "If 'true', then the output is pretty printed. Defaults to 'false' unless the user-agent indicates a browser or command-line HTTP tool (curl and wget)."

// param is a non-body parameter.
type param struct {
	name, in, description, typ string
	required                   bool
}

type response struct {
	code        int
	description string
	ref         string // definition of the body; "" for none
}

type operation struct {
	method      string // get, put, post, delete, patch
	description string
	id          string
	tag         string
	action      string            // x-kubernetes-action
	gvk         *groupVersionKind // x-kubernetes-group-version-kind
	params      []param
	bodyRef     string // definition of the request body; "" for none
	bodyNeeded  bool
	consumes    []string
	produces    []string
	responses   []response
}

type pathItem struct {
	path   string
	ops    []*operation
	params []param // common to every operation, as upstream hoists them
}

// methodOrder is the order operations are written in.
var methodOrder = map[string]int{"get": 0, "put": 1, "post": 2, "delete": 3, "patch": 4}

// Definitions the paths refer to besides the resources' kinds.
var (
	statusType          = reflect.TypeFor[metav1.Status]()
	deleteOptionsType   = reflect.TypeFor[metav1.DeleteOptions]()
	patchType           = reflect.TypeFor[metav1.Patch]()
	apiResourceListType = reflect.TypeFor[metav1.APIResourceList]()

	nameStatus          = nameOf(statusType)
	nameDeleteOptions   = nameOf(deleteOptionsType)
	namePatch           = nameOf(patchType)
	nameAPIResourceList = nameOf(apiResourceListType)
)

// Query parameters of each verb, reflected from the option types as
// kube-apiserver's installer does.
var (
	listParams, createParams, updateParams, patchParams, deleteParams []param
)

func init() {
	listParams = optionParams(&metav1.ListOptions{})
	createParams = optionParams(&metav1.CreateOptions{})
	updateParams = optionParams(&metav1.UpdateOptions{})
	patchParams = optionParams(&metav1.PatchOptions{})
	deleteParams = optionParams(&metav1.DeleteOptions{})
}

// optionParams are the query parameters an options struct stands for: its
// scalar fields, by JSON name, with their docs.
func optionParams(obj swaggerDocer) []param {
	t := reflect.TypeOf(obj).Elem()
	docs := obj.SwaggerDoc()
	var out []param
	for i := range t.NumField() {
		f := t.Field(i)
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if ft.Kind() == reflect.Struct || ft.Kind() == reflect.Interface {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		typ, _ := scalar(ft.Kind())
		out = append(out, param{name: name, in: "query", description: docs[name], typ: typ})
	}
	return out
}

func without(params []param, names ...string) []param {
	return slices.DeleteFunc(slices.Clone(params), func(p param) bool { return slices.Contains(names, p.name) })
}

// gvPath is a group version's API path: "api/v1" or "apis/apps/v1".
func gvPath(gv k8sschema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// validOperationID keeps letters (and digits past the first), capitalizing
// the letter after anything dropped, as the apiserver's ToValidOperationID.
func validOperationID(s string, capitalizeFirst bool) string {
	var b strings.Builder
	capitalize := capitalizeFirst
	for i, r := range s {
		if unicode.IsLetter(r) || r == '_' || (i != 0 && unicode.IsDigit(r)) {
			if capitalize {
				b.WriteRune(unicode.ToUpper(r))
				capitalize = false
			} else {
				b.WriteRune(r)
			}
		} else {
			capitalize = true
		}
	}
	return b.String()
}

// article is " a " or " an " before a kind, as the apiserver words it.
func article(noun string) string {
	if !strings.HasSuffix(noun, "ss") && strings.HasSuffix(noun, "s") {
		return " "
	}
	if strings.ContainsRune("aeiouAEIOU", rune(noun[0])) {
		return " an "
	}
	return " a "
}

// subresourceVerbs are the verbs of the subresources served here, as
// discovery lists them.
func subresourceVerbs(sub string) []string {
	if sub == "finalize" {
		return []string{"update"}
	}
	return []string{"get", "patch", "update"} // status
}

// groupVersionPaths builds a group version's paths and says which
// definitions they refer to; d gains the definitions of its kinds.
func groupVersionPaths(d *definitions, gv k8sschema.GroupVersion, resources []*registry.Resource) []*pathItem {
	prefix := "/" + gvPath(gv)
	group := "core"
	if gv.Group != "" {
		group = strings.TrimSuffix(gv.Group, ".k8s.io")
	}
	gvID := validOperationID(group, true) + validOperationID(gv.Version, true)
	tag := validOperationID(group, false) + "_" + validOperationID(gv.Version, false)

	routes := map[string][]*operation{}
	add := func(path string, op *operation) {
		op.tag = tag
		routes[path] = append(routes[path], op)
	}
	add(prefix+"/", &operation{
		method: "get", description: "get available resources", id: "get" + gvID + "APIResources",
		consumes: mediaTypes, produces: mediaTypes,
		responses: []response{{200, "OK", nameAPIResourceList}},
	})

	for _, r := range resources {
		obj, list := d.define(reflect.TypeOf(r.New()).Elem()), ""
		if r.NewList != nil { // virtual resources (reviews) have no list
			list = d.define(reflect.TypeOf(r.NewList()).Elem())
		}
		kind := r.Kind
		gvk := &groupVersionKind{gv.Group, gv.Version, kind}
		verbs := r.Verbs()
		has := func(v string) bool { return slices.Contains(verbs, v) }
		nsParam := param{name: "namespace", in: "path", description: "object name and auth scope, such as for teams and projects", typ: "string", required: true}
		nameParam := param{name: "name", in: "path", description: "name of the " + kind, typ: "string", required: true}
		pretty := param{name: "pretty", in: "query", description: prettyDoc, typ: "string"}

		collection, scope, namespaced := prefix+"/"+r.GVR.Resource, []param{pretty}, ""
		if r.Namespaced {
			collection = prefix + "/namespaces/{namespace}/" + r.GVR.Resource
			scope = append(scope, nsParam)
			namespaced = "Namespaced"
		}
		item := collection + "/{name}"
		itemScope := append(slices.Clone(scope), nameParam)
		id := func(verb, sub, suffix string) string {
			return verb + gvID + namespaced + kind + title(sub) + suffix
		}
		deleted := nameStatus
		if r.ReturnDeletedObject {
			deleted = obj
		}

		listDoc := "list objects of kind " + kind
		if has("watch") {
			listDoc = "list or watch objects of kind " + kind
		}
		if has("list") {
			add(collection, &operation{method: "get", action: "list", gvk: gvk, description: listDoc,
				id: id("list", "", ""), params: append(slices.Clone(scope), listParams...),
				consumes: anyType, produces: allMediaTypes, responses: []response{{200, "OK", list}}})
			if r.Namespaced {
				add(prefix+"/"+r.GVR.Resource, &operation{method: "get", action: "list", gvk: gvk, description: listDoc,
					id: "list" + gvID + kind + "ForAllNamespaces", params: append([]param{pretty}, listParams...),
					consumes: anyType, produces: allMediaTypes, responses: []response{{200, "OK", list}}})
			}
		}
		if has("create") {
			add(collection, &operation{method: "post", action: "post", gvk: gvk, description: "create" + article(kind) + kind,
				id: id("create", "", ""), params: append(slices.Clone(scope), createParams...),
				bodyRef: obj, bodyNeeded: true, consumes: anyType, produces: mediaTypes,
				responses: []response{{200, "OK", obj}, {201, "Created", obj}, {202, "Accepted", obj}}})
		}
		if has("deletecollection") {
			add(collection, &operation{method: "delete", action: "deletecollection", gvk: gvk, description: "delete collection of " + kind,
				id:      "delete" + gvID + "Collection" + namespaced + kind,
				params:  append(append(slices.Clone(scope), deleteParams...), without(listParams, "watch", "allowWatchBookmarks")...),
				bodyRef: nameDeleteOptions, consumes: anyType, produces: mediaTypes,
				responses: []response{{200, "OK", nameStatus}}})
		}
		itemOps(add, item, itemScope, "", verbs, obj, deleted, kind, gvk, id)
		for _, sub := range r.Subresources {
			// Only these subresources read and write the resource's own
			// kind; the registry does not say what others (scale,
			// binding, eviction, ...) take.
			if sub == "status" || sub == "finalize" {
				itemOps(add, item+"/"+sub, itemScope, sub, subresourceVerbs(sub), obj, deleted, kind, gvk, id)
			}
		}
	}

	var out []*pathItem
	for path, ops := range routes {
		out = append(out, hoist(path, ops))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].path < out[j].path })
	return out
}

// itemOps adds the operations on one object (or one of its subresources).
func itemOps(add func(string, *operation), path string, scope []param, sub string, verbs []string,
	obj, deleted, kind string, gvk *groupVersionKind, id func(verb, sub, suffix string) string) {
	has := func(v string) bool { return slices.Contains(verbs, v) }
	doc := func(plain, subDoc string) string {
		if sub == "" {
			return plain + kind
		}
		return subDoc + sub + " of the specified " + kind
	}
	if has("get") {
		add(path, &operation{method: "get", action: "get", gvk: gvk, description: doc("read the specified ", "read "),
			id: id("read", sub, ""), params: slices.Clone(scope),
			consumes: anyType, produces: mediaTypes, responses: []response{{200, "OK", obj}}})
	}
	if has("update") {
		add(path, &operation{method: "put", action: "put", gvk: gvk, description: doc("replace the specified ", "replace "),
			id: id("replace", sub, ""), params: append(slices.Clone(scope), updateParams...),
			bodyRef: obj, bodyNeeded: true, consumes: anyType, produces: mediaTypes,
			responses: []response{{200, "OK", obj}, {201, "Created", obj}}})
	}
	if has("patch") {
		add(path, &operation{method: "patch", action: "patch", gvk: gvk, description: doc("partially update the specified ", "partially update "),
			id: id("patch", sub, ""), params: append(slices.Clone(scope), patchParams...),
			bodyRef: namePatch, bodyNeeded: true, consumes: patchTypes, produces: mediaTypes,
			responses: []response{{200, "OK", obj}, {201, "Created", obj}}})
	}
	if has("delete") {
		description := "delete" + article(kind) + kind
		if sub != "" {
			description = "delete " + sub + " of" + article(kind) + kind
		}
		add(path, &operation{method: "delete", action: "delete", gvk: gvk, description: description,
			id: id("delete", sub, ""), params: append(slices.Clone(scope), deleteParams...),
			bodyRef: nameDeleteOptions, consumes: anyType, produces: mediaTypes,
			responses: []response{{200, "OK", deleted}, {202, "Accepted", deleted}}})
	}
}

// title capitalizes a subresource for an operation id ("status" -> "Status").
func title(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// hoist moves the parameters every operation of a path shares to the path,
// as upstream's builder does, and sorts what is left by name.
func hoist(path string, ops []*operation) *pathItem {
	item := &pathItem{path: path, ops: ops}
	sort.SliceStable(ops, func(i, j int) bool { return methodOrder[ops[i].method] < methodOrder[ops[j].method] })
	count := map[param]int{}
	for _, op := range ops {
		for _, p := range op.params {
			count[p]++
		}
	}
	for p, n := range count {
		if n == len(ops) {
			item.params = append(item.params, p)
		}
	}
	for _, op := range ops {
		op.params = slices.DeleteFunc(op.params, func(p param) bool { return count[p] == len(ops) })
		sortParams(op.params)
	}
	sortParams(item.params)
	return item
}

func sortParams(ps []param) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].name != ps[j].name {
			return ps[i].name < ps[j].name
		}
		return ps[i].in < ps[j].in
	})
}

// pathRefs are the definitions a group version's paths refer to.
func pathRefs(items []*pathItem) []string {
	var out []string
	for _, item := range items {
		for _, op := range item.ops {
			if op.bodyRef != "" && !slices.Contains(out, op.bodyRef) {
				out = append(out, op.bodyRef)
			}
			for _, r := range op.responses {
				if r.ref != "" && !slices.Contains(out, r.ref) {
					out = append(out, r.ref)
				}
			}
		}
	}
	return out
}
